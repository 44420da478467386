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
ALTER TABLE "dag_runs" ADD COLUMN "callback_error" text;--> statement-breakpoint
ALTER TABLE "callback_requests" ADD CONSTRAINT "callback_requests_run_id_dag_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."dag_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "callback_requests" ADD CONSTRAINT "callback_requests_task_instance_id_task_instances_id_fk" FOREIGN KEY ("task_instance_id") REFERENCES "public"."task_instances"("id") ON DELETE cascade ON UPDATE no action;