-- Who set a ward's protocol, and when (issue 14, item 3, from review): a ward's
-- protocol decides which alerts its patients can raise, so a change is a
-- clinical decision that must stay on record, as settings and capacity do.
-- Append-only; written by ward/protocol_store.py with every change of
-- wards.protocol (its creation included), never otherwise.

CREATE TABLE ward_protocol_changes (
    change_id   bigserial PRIMARY KEY,
    ward_id     text NOT NULL REFERENCES wards,
    protocol    text NOT NULL CHECK (protocol IN ('news2', 'covid-oximetry', 'heart-failure')),
    previous    text,  -- NULL: the ward was created with it
    changed_by  text NOT NULL CHECK (btrim(changed_by) <> ''),
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ward_protocol_changes_ward ON ward_protocol_changes (ward_id, changed_at);

-- Wards that ran a protocol before this table: their protocol as found, by nobody known.
INSERT INTO ward_protocol_changes (ward_id, protocol, previous, changed_by)
SELECT ward_id, protocol, NULL, 'before migration 023' FROM wards WHERE protocol <> 'news2';
