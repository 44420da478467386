DROP INDEX "task_instances_running_heartbeat_idx";--> statement-breakpoint
ALTER TABLE "dags" ADD COLUMN "max_active_runs" integer DEFAULT 16 NOT NULL;--> statement-breakpoint
ALTER TABLE "dags" ADD COLUMN "max_active_tasks" integer DEFAULT 16 NOT NULL;--> statement-breakpoint
ALTER TABLE "task_instances" ADD COLUMN "dag_id" uuid NOT NULL;--> statement-breakpoint
ALTER TABLE "task_instances" ADD CONSTRAINT "task_instances_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "task_instances_active_pool_idx" ON "task_instances" USING btree ("pool") WHERE "task_instances"."state" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "task_instances_active_dag_idx" ON "task_instances" USING btree ("dag_id") WHERE "task_instances"."state" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "task_instances_running_heartbeat_idx" ON "task_instances" USING btree ("heartbeat_at") WHERE "task_instances"."state" in ('queued', 'running');