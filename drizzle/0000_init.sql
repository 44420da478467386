CREATE TYPE "public"."dag_run_state" AS ENUM('queued', 'running', 'success', 'failed');--> statement-breakpoint
CREATE TYPE "public"."dag_run_type" AS ENUM('scheduled', 'manual', 'backfill');--> statement-breakpoint
CREATE TYPE "public"."task_state" AS ENUM('scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry', 'upstream_failed', 'skipped', 'removed');--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"dag_id" text,
	"run_id" text,
	"task_id" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "audit_log_details_is_object" CHECK (jsonb_typeof("audit_log"."details") = 'object')
);
--> statement-breakpoint
CREATE TABLE "dag_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"dag_id" uuid NOT NULL,
	"dag_version_id" uuid,
	"run_id" text NOT NULL,
	"run_type" "dag_run_type" NOT NULL,
	"state" "dag_run_state" DEFAULT 'queued' NOT NULL,
	"logical_date" timestamp with time zone NOT NULL,
	"interval_start" timestamp with time zone NOT NULL,
	"interval_end" timestamp with time zone NOT NULL,
	"run_after" timestamp with time zone NOT NULL,
	"conf" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"queued_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dag_runs_dag_id_logical_date_key" UNIQUE("dag_id","logical_date"),
	CONSTRAINT "dag_runs_dag_id_run_id_key" UNIQUE("dag_id","run_id"),
	CONSTRAINT "dag_runs_conf_is_object" CHECK (jsonb_typeof("dag_runs"."conf") = 'object')
);
--> statement-breakpoint
CREATE TABLE "dag_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"dag_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"hash" text NOT NULL,
	"serialized" jsonb NOT NULL,
	"source" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dag_versions_dag_id_version_key" UNIQUE("dag_id","version"),
	CONSTRAINT "dag_versions_dag_id_hash_key" UNIQUE("dag_id","hash"),
	CONSTRAINT "dag_versions_serialized_is_object" CHECK (jsonb_typeof("dag_versions"."serialized") = 'object')
);
--> statement-breakpoint
CREATE TABLE "dags" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"dag_id" text NOT NULL,
	"file" text NOT NULL,
	"is_paused" boolean NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"latest_version_id" uuid,
	"schedule" text,
	"timezone" text NOT NULL,
	"description" text,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"owner" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_parsed_at" timestamp with time zone,
	CONSTRAINT "dags_dag_id_unique" UNIQUE("dag_id")
);
--> statement-breakpoint
CREATE TABLE "import_errors" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"file" text NOT NULL,
	"message" text NOT NULL,
	"line" integer,
	"column" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "import_errors_file_unique" UNIQUE("file")
);
--> statement-breakpoint
CREATE TABLE "pools" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"slots" integer NOT NULL,
	"description" text,
	CONSTRAINT "pools_name_unique" UNIQUE("name"),
	CONSTRAINT "pools_slots_non_negative" CHECK ("pools"."slots" >= 0)
);
--> statement-breakpoint
CREATE TABLE "task_instances" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"run_id" uuid NOT NULL,
	"task_id" text NOT NULL,
	"map_index" integer DEFAULT -1 NOT NULL,
	"state" "task_state",
	"try_number" integer DEFAULT 0 NOT NULL,
	"max_tries" integer DEFAULT 0 NOT NULL,
	"priority" integer DEFAULT 1 NOT NULL,
	"pool" text DEFAULT 'default_pool' NOT NULL,
	"queue" text DEFAULT 'default' NOT NULL,
	"operator" text NOT NULL,
	"scheduled_at" timestamp with time zone,
	"queued_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"heartbeat_at" timestamp with time zone,
	"next_try_at" timestamp with time zone,
	"owner" text,
	"lease" uuid,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "task_instances_run_id_task_id_map_index_key" UNIQUE("run_id","task_id","map_index")
);
--> statement-breakpoint
CREATE TABLE "task_logs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "task_logs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"task_instance_id" uuid NOT NULL,
	"try_number" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL,
	CONSTRAINT "task_logs_level_valid" CHECK ("task_logs"."level" in ('debug', 'info', 'warn', 'error'))
);
--> statement-breakpoint
CREATE TABLE "xcom" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"task_instance_id" uuid NOT NULL,
	"key" text DEFAULT 'return_value' NOT NULL,
	"value" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "xcom_task_instance_id_key_key" UNIQUE("task_instance_id","key")
);
--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_dag_version_id_dag_versions_id_fk" FOREIGN KEY ("dag_version_id") REFERENCES "public"."dag_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_versions" ADD CONSTRAINT "dag_versions_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dags" ADD CONSTRAINT "dags_latest_version_id_dag_versions_id_fk" FOREIGN KEY ("latest_version_id") REFERENCES "public"."dag_versions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_instances" ADD CONSTRAINT "task_instances_run_id_dag_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."dag_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_logs" ADD CONSTRAINT "task_logs_task_instance_id_task_instances_id_fk" FOREIGN KEY ("task_instance_id") REFERENCES "public"."task_instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xcom" ADD CONSTRAINT "xcom_task_instance_id_task_instances_id_fk" FOREIGN KEY ("task_instance_id") REFERENCES "public"."task_instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "dag_runs_active_idx" ON "dag_runs" USING btree ("state","dag_id") WHERE "dag_runs"."state" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "task_instances_claimable_idx" ON "task_instances" USING btree ("priority" DESC NULLS LAST,"scheduled_at") WHERE "task_instances"."state" = 'scheduled';--> statement-breakpoint
CREATE INDEX "task_instances_running_heartbeat_idx" ON "task_instances" USING btree ("heartbeat_at") WHERE "task_instances"."state" = 'running';--> statement-breakpoint
CREATE INDEX "task_instances_retry_due_idx" ON "task_instances" USING btree ("next_try_at") WHERE "task_instances"."state" = 'up_for_retry';--> statement-breakpoint
CREATE INDEX "task_logs_task_instance_try_idx" ON "task_logs" USING btree ("task_instance_id","try_number","id");