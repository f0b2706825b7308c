-- The scores hypertable kept TimescaleDB's default index on time alone
-- (create_hypertable makes one unless told not to).  Every read of scores is a
-- patient's (the engine's carry and context, the API, the dashboard, the FHIR
-- export: all by patient_id, time), and dropping old chunks needs no index, so the
-- index only cost writes: a third index for each of the engine's rows (issue 12).
DROP INDEX IF EXISTS scores_time_idx;
