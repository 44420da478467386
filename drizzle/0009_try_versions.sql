CREATE TABLE "task_instance_tries" (
	"task_instance_id" uuid NOT NULL,
	"try_number" integer NOT NULL,
	"dag_version_id" uuid,
	CONSTRAINT "task_instance_tries_task_instance_id_try_number_pk" PRIMARY KEY("task_instance_id","try_number")
);
--> statement-breakpoint
ALTER TABLE "task_instances" ADD COLUMN "dag_version_id" uuid;--> statement-breakpoint
ALTER TABLE "task_instance_tries" ADD CONSTRAINT "task_instance_tries_task_instance_id_task_instances_id_fk" FOREIGN KEY ("task_instance_id") REFERENCES "public"."task_instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_instance_tries" ADD CONSTRAINT "task_instance_tries_dag_version_id_dag_versions_id_fk" FOREIGN KEY ("dag_version_id") REFERENCES "public"."dag_versions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_instances" ADD CONSTRAINT "task_instances_dag_version_id_dag_versions_id_fk" FOREIGN KEY ("dag_version_id") REFERENCES "public"."dag_versions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
-- Until now every try ran its run's version.
UPDATE "task_instances" ti SET "dag_version_id" = r."dag_version_id" FROM "dag_runs" r WHERE r."id" = ti."run_id" AND ti."try_number" > 0;
--> statement-breakpoint
INSERT INTO "task_instance_tries" ("task_instance_id", "try_number", "dag_version_id")
SELECT ti."id", n, r."dag_version_id" FROM "task_instances" ti JOIN "dag_runs" r ON r."id" = ti."run_id", generate_series(1, ti."try_number") AS n
WHERE ti."try_number" > 0;
