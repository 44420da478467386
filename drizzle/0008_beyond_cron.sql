ALTER TYPE "public"."dag_run_type" ADD VALUE 'dataset_triggered';--> statement-breakpoint
ALTER TYPE "public"."dag_run_type" ADD VALUE 'event';--> statement-breakpoint
ALTER TYPE "public"."task_state" ADD VALUE 'up_for_reschedule';--> statement-breakpoint
CREATE TABLE "callback_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"run_id" uuid NOT NULL,
	"task_instance_id" uuid,
	"try_number" integer,
	"callback" text NOT NULL,
	"state" text NOT NULL,
	"error" text,
	"next_try_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "callback_requests_callback" CHECK ("callback_requests"."callback" in ('onSuccess', 'onFailure', 'onRetry'))
);
--> statement-breakpoint
CREATE TABLE "dag_run_dataset_events" (
	"run_id" uuid NOT NULL,
	"event_id" bigint NOT NULL,
	CONSTRAINT "dag_run_dataset_events_run_id_event_id_pk" PRIMARY KEY("run_id","event_id")
);
--> statement-breakpoint
CREATE TABLE "dag_schedule_dataset_refs" (
	"dag_id" uuid NOT NULL,
	"dataset_id" uuid NOT NULL,
	CONSTRAINT "dag_schedule_dataset_refs_dag_id_dataset_id_pk" PRIMARY KEY("dag_id","dataset_id")
);
--> statement-breakpoint
CREATE TABLE "dataset_dag_run_queue" (
	"dag_id" uuid NOT NULL,
	"event_id" bigint NOT NULL,
	"dataset_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dataset_dag_run_queue_dag_id_event_id_pk" PRIMARY KEY("dag_id","event_id")
);
--> statement-breakpoint
CREATE TABLE "dataset_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "dataset_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"dataset_id" uuid NOT NULL,
	"source_dag_id" text NOT NULL,
	"source_run_id" text NOT NULL,
	"source_task_id" text NOT NULL,
	"source_try_number" integer NOT NULL,
	"extra" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dataset_events_extra_is_object" CHECK (jsonb_typeof("dataset_events"."extra") = 'object')
);
--> statement-breakpoint
CREATE TABLE "datasets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"uri" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "datasets_uri_unique" UNIQUE("uri")
);
--> statement-breakpoint
CREATE TABLE "event_keys" (
	"dag_id" uuid NOT NULL,
	"key" text NOT NULL,
	"run_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_keys_dag_id_key_pk" PRIMARY KEY("dag_id","key")
);
--> statement-breakpoint
CREATE TABLE "event_watermarks" (
	"dag_id" uuid PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"value" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "task_outlet_dataset_refs" (
	"dag_id" uuid NOT NULL,
	"task_id" text NOT NULL,
	"dataset_id" uuid NOT NULL,
	CONSTRAINT "task_outlet_dataset_refs_dag_id_task_id_dataset_id_pk" PRIMARY KEY("dag_id","task_id","dataset_id")
);
--> statement-breakpoint
DROP INDEX "task_instances_unfinished_idx";--> statement-breakpoint
DROP INDEX "task_instances_retry_due_idx";--> statement-breakpoint
ALTER TABLE "dag_runs" ADD COLUMN "callback_error" text;--> statement-breakpoint
ALTER TABLE "dags" ADD COLUMN "dataset_schedule" jsonb;--> statement-breakpoint
ALTER TABLE "task_instances" ADD COLUMN "sensor_started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "callback_requests" ADD CONSTRAINT "callback_requests_run_id_dag_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."dag_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "callback_requests" ADD CONSTRAINT "callback_requests_task_instance_id_task_instances_id_fk" FOREIGN KEY ("task_instance_id") REFERENCES "public"."task_instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_run_dataset_events" ADD CONSTRAINT "dag_run_dataset_events_run_id_dag_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."dag_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_run_dataset_events" ADD CONSTRAINT "dag_run_dataset_events_event_id_dataset_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."dataset_events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_schedule_dataset_refs" ADD CONSTRAINT "dag_schedule_dataset_refs_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_schedule_dataset_refs" ADD CONSTRAINT "dag_schedule_dataset_refs_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_dag_run_queue" ADD CONSTRAINT "dataset_dag_run_queue_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_dag_run_queue" ADD CONSTRAINT "dataset_dag_run_queue_event_id_dataset_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."dataset_events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_dag_run_queue" ADD CONSTRAINT "dataset_dag_run_queue_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_events" ADD CONSTRAINT "dataset_events_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_keys" ADD CONSTRAINT "event_keys_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_keys" ADD CONSTRAINT "event_keys_run_id_dag_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."dag_runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_watermarks" ADD CONSTRAINT "event_watermarks_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_outlet_dataset_refs" ADD CONSTRAINT "task_outlet_dataset_refs_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_outlet_dataset_refs" ADD CONSTRAINT "task_outlet_dataset_refs_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dag_run_dataset_events_event_id_idx" ON "dag_run_dataset_events" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "dag_schedule_dataset_refs_dataset_id_idx" ON "dag_schedule_dataset_refs" USING btree ("dataset_id");--> statement-breakpoint
CREATE INDEX "dataset_events_dataset_id_idx" ON "dataset_events" USING btree ("dataset_id","id");--> statement-breakpoint
CREATE INDEX "event_keys_run_id_idx" ON "event_keys" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "task_outlet_dataset_refs_dataset_id_idx" ON "task_outlet_dataset_refs" USING btree ("dataset_id");--> statement-breakpoint
CREATE INDEX "task_instances_unfinished_idx" ON "task_instances" USING btree ("run_id") WHERE "task_instances"."state" is null or "task_instances"."state" not in ('success', 'failed', 'skipped', 'upstream_failed', 'removed');--> statement-breakpoint
CREATE INDEX "task_instances_retry_due_idx" ON "task_instances" USING btree ("next_try_at") WHERE "task_instances"."next_try_at" is not null;