-- Each patient's score epoch (issue 12): every write of a patient's scores
-- (alerts/engine.py Engine.score, the one writer: the live engine and `vward
-- rescore`) adds one to it in the transaction that locks the patient.  An
-- engine keeps what the alert rules need of the patient's recent history
-- between batches (alerts/context_cache.py) only while the epoch is the one it
-- left: a rescore or another engine's batch in between makes it read again.
ALTER TABLE patients ADD COLUMN score_epoch bigint NOT NULL DEFAULT 0;
