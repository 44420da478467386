CREATE TYPE "public"."backfill_outcome" AS ENUM('created', 'cleared', 'skipped');--> statement-breakpoint
CREATE TYPE "public"."backfill_state" AS ENUM('running', 'paused', 'completed', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."reprocess_behavior" AS ENUM('none', 'failed', 'completed');--> statement-breakpoint
CREATE TABLE "backfill_runs" (
	"backfill_id" integer NOT NULL,
	"ordinal" integer NOT NULL,
	"logical_date" timestamp with time zone NOT NULL,
	"interval_start" timestamp with time zone NOT NULL,
	"interval_end" timestamp with time zone NOT NULL,
	"outcome" "backfill_outcome",
	"reason" text,
	"dag_run_id" uuid,
	CONSTRAINT "backfill_runs_backfill_id_ordinal_pk" PRIMARY KEY("backfill_id","ordinal"),
	CONSTRAINT "backfill_runs_backfill_id_logical_date_key" UNIQUE("backfill_id","logical_date")
);
--> statement-breakpoint
CREATE TABLE "backfills" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "backfills_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"dag_id" uuid NOT NULL,
	"from_date" timestamp with time zone NOT NULL,
	"to_date" timestamp with time zone NOT NULL,
	"reprocess" "reprocess_behavior" NOT NULL,
	"max_active_runs" integer NOT NULL,
	"backwards" boolean DEFAULT false NOT NULL,
	"conf" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"state" "backfill_state" DEFAULT 'running' NOT NULL,
	"planned" integer DEFAULT 0 NOT NULL,
	"plan_cursor" timestamp with time zone,
	"plan_done" boolean DEFAULT false NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	CONSTRAINT "backfills_conf_is_object" CHECK (jsonb_typeof("backfills"."conf") = 'object'),
	CONSTRAINT "backfills_max_active_runs_positive" CHECK ("backfills"."max_active_runs" > 0)
);
--> statement-breakpoint
DROP INDEX "task_instances_claimable_idx";--> statement-breakpoint
ALTER TABLE "dag_runs" ADD COLUMN "backfill_id" integer;--> statement-breakpoint
ALTER TABLE "task_instances" ADD COLUMN "backfill" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "backfill_runs" ADD CONSTRAINT "backfill_runs_backfill_id_backfills_id_fk" FOREIGN KEY ("backfill_id") REFERENCES "public"."backfills"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backfill_runs" ADD CONSTRAINT "backfill_runs_dag_run_id_dag_runs_id_fk" FOREIGN KEY ("dag_run_id") REFERENCES "public"."dag_runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backfills" ADD CONSTRAINT "backfills_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "backfill_runs_pending_idx" ON "backfill_runs" USING btree ("backfill_id","ordinal") WHERE "backfill_runs"."outcome" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "backfills_one_active_per_dag" ON "backfills" USING btree ("dag_id") WHERE "backfills"."state" in ('running', 'paused');--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_backfill_id_backfills_id_fk" FOREIGN KEY ("backfill_id") REFERENCES "public"."backfills"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dag_runs_backfill_active_idx" ON "dag_runs" USING btree ("backfill_id") WHERE "dag_runs"."backfill_id" is not null and "dag_runs"."state" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "task_instances_claimable_idx" ON "task_instances" USING btree ("backfill","priority" DESC NULLS LAST,"scheduled_at") WHERE "task_instances"."state" = 'scheduled';