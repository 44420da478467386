ALTER TYPE "public"."task_state" ADD VALUE 'up_for_reschedule';--> statement-breakpoint
DROP INDEX "task_instances_unfinished_idx";--> statement-breakpoint
DROP INDEX "task_instances_retry_due_idx";--> statement-breakpoint
ALTER TABLE "task_instances" ADD COLUMN "sensor_started_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "task_instances_unfinished_idx" ON "task_instances" USING btree ("run_id") WHERE "task_instances"."state" is null or "task_instances"."state" not in ('success', 'failed', 'skipped', 'upstream_failed', 'removed');--> statement-breakpoint
CREATE INDEX "task_instances_retry_due_idx" ON "task_instances" USING btree ("next_try_at") WHERE "task_instances"."next_try_at" is not null;