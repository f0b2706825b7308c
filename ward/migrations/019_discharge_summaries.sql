-- Discharge that tells the GP (issue 14, item 1; docs/api.md "Discharge
-- summary").  Written by api/discharge_store.py in the discharge's own
-- transaction (api/admission.py discharge_with_summary); read by the FHIR
-- routes (/fhir/Bundle/{id}, /fhir/Composition?patient=) and the PDF route.
--
-- discharge_summaries: the document made ONCE, when the patient is discharged,
-- and kept as it was sent: the FHIR document Bundle and its PDF rendering, with
-- the clinician's free text, who wrote it and when.  A GP's copy must never
-- change under them (hazard H56): rows are never updated or deleted (trigger
-- below); one per patient (patient ids are never reused, a discharge happens
-- once).

CREATE TABLE discharge_summaries (
    summary_id    bigserial PRIMARY KEY,
    -- The Bundle's id (a UUID, also its identifier urn:uuid:...): /fhir/Bundle/{id}.
    document_id   text NOT NULL UNIQUE CHECK (document_id ~ '^[0-9a-f-]{36}$'),
    patient_id    text NOT NULL UNIQUE REFERENCES patients,
    bundle        jsonb NOT NULL CHECK (bundle->>'resourceType' = 'Bundle'
                                        AND bundle->>'type' = 'document'
                                        AND bundle->>'id' = document_id),
    pdf           bytea NOT NULL CHECK (substring(pdf FROM 1 FOR 5) = '\x255044462d'::bytea),
    summary_text  text NOT NULL CHECK (btrim(summary_text) <> ''),
    created_by    text NOT NULL CHECK (btrim(created_by) <> ''),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION discharge_summaries_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'discharge_summaries is append-only: a discharge summary is kept as it'
                    ' was sent, never changed or removed';
END $$;

CREATE TRIGGER discharge_summaries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON discharge_summaries
    FOR EACH STATEMENT EXECUTE FUNCTION discharge_summaries_frozen();

-- The patient's NHS number, when the ward knows it: the GP's record is found by
-- it (UK Core Patient identifier https://fhir.nhs.uk/Id/nhs-number).  Ten
-- digits; NULL: not known (the document then carries the ward's own id only).
ALTER TABLE patients
    ADD COLUMN nhs_number text CHECK (nhs_number ~ '^[0-9]{10}$');
