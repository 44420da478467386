ALTER TYPE "public"."dag_run_type" ADD VALUE 'event';--> statement-breakpoint
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
ALTER TABLE "event_keys" ADD CONSTRAINT "event_keys_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_keys" ADD CONSTRAINT "event_keys_run_id_dag_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."dag_runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_watermarks" ADD CONSTRAINT "event_watermarks_dag_id_dags_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "event_keys_run_id_idx" ON "event_keys" USING btree ("run_id");