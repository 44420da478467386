-- Every task runs in a pool; tasks that name none use 'default_pool' (Airflow's default, 128 slots).
INSERT INTO "pools" ("name", "slots", "description")
VALUES ('default_pool', 128, 'Default pool')
ON CONFLICT ("name") DO NOTHING;
