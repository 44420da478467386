CREATE TABLE "connections" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"conn_type" text DEFAULT 'postgres' NOT NULL,
	"description" text,
	"url_encrypted" text NOT NULL,
	"display_url" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "connections_name_unique" UNIQUE("name"),
	CONSTRAINT "connections_conn_type_valid" CHECK ("connections"."conn_type" in ('postgres'))
);
--> statement-breakpoint
CREATE TABLE "operator_state" (
	"dag_id" text NOT NULL,
	"task_id" text NOT NULL,
	"key" text NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "operator_state_dag_id_task_id_key_pk" PRIMARY KEY("dag_id","task_id","key")
);
--> statement-breakpoint
CREATE TABLE "reports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"task_instance_id" uuid NOT NULL,
	"dag_id" text NOT NULL,
	"run_id" text NOT NULL,
	"task_id" text NOT NULL,
	"try_number" integer NOT NULL,
	"format" text NOT NULL,
	"title" text NOT NULL,
	"content" text NOT NULL,
	"rows" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "reports_task_instance_try_key" UNIQUE("task_instance_id","try_number"),
	CONSTRAINT "reports_format_valid" CHECK ("reports"."format" in ('csv', 'json', 'markdown', 'html'))
);
--> statement-breakpoint
ALTER TABLE "reports" ADD CONSTRAINT "reports_task_instance_id_task_instances_id_fk" FOREIGN KEY ("task_instance_id") REFERENCES "public"."task_instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "reports_dag_created_idx" ON "reports" USING btree ("dag_id","created_at" DESC NULLS LAST);