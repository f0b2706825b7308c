-- Two clinical readings of the scores table, defined once for every reader (the
-- engine's clock-driven checks, the API, the dashboard): what a score shows of
-- the patient, and when the patient's latest complete set was measured.

-- What a score shows of the patient (alerts.scoring.ScoreTable.effective_level):
-- a complete set its own band (after accepted ranges); an incomplete one is a
-- lower bound and shows its monitoring band, the highest since the last
-- complete set.  Rows scored before migration 005 have no monitoring band.
CREATE FUNCTION effective_band(complete boolean, band text, adjusted_band text,
                               monitoring_band text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN complete THEN coalesce(adjusted_band, band)
                ELSE coalesce(monitoring_band, adjusted_band, band) END
$$;

-- When the patient's latest complete set was measured: its oldest value's
-- measurement time (a set is as old as its oldest value, so SpO2 readings after
-- a full set do not push the next one back); the score's own time on rows
-- scored before migration 005.  No row: never a complete set.  The overdue
-- interval (alerts.rules.overdue) runs from here.  A table function, so that
-- `LEFT JOIN LATERAL last_complete_set(p.patient_id) c ON true` is inlined into
-- the caller's plan (one index probe per patient; a scalar call is not inlined).
CREATE FUNCTION last_complete_set(patient text) RETURNS TABLE (measured_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT min(x) FROM unnest(s.input_times) AS x), s.time)
    FROM scores s WHERE s.patient_id = patient AND s.complete
    ORDER BY s.time DESC LIMIT 1
$$;
