-- Acknowledge from the notification (issue 13, item 3; docs/notifications.md
-- "Acknowledge links"): every acknowledgement says how it was made, and a
-- notification's link acknowledges its alert once.  Written by the alerts
-- stage's one writer of alerts (ack_via) and by api/ack_links.py (the uses).

-- How an acknowledgement was made: the door (dashboard, api, cli) or the link
-- of a notification and its channel ('link:email', 'link:webhook', 'link:sms').
-- NULL while the alert is not acknowledged, and on acknowledgements made
-- before this migration (unknown).  ward/ack_links.valid_via says which.
ALTER TABLE alerts
    ADD COLUMN ack_via text
        CHECK (ack_via IN ('dashboard', 'api', 'cli') OR ack_via ~ '^link(:[a-z]{1,20})?$');

-- A row per used link.  Keyed by the notification the link went out in (one
-- link per notification, however often its message is re-sent), so that a
-- replay is refused even when two uses race: the second INSERT waits for the
-- first transaction and then conflicts.  No foreign key to notifications
-- (migration 014): the link's signature already proves where it came from,
-- and the outbox may be pruned while this record of use is kept.
CREATE TABLE ack_link_uses (
    notification_id  bigint PRIMARY KEY,
    alert_id         bigint NOT NULL REFERENCES alerts,
    -- The recipient the link was bound to: who acknowledged.
    user_name        text NOT NULL CHECK (user_name <> ''),
    via              text NOT NULL CHECK (via ~ '^link(:[a-z]{1,20})?$'),
    used_at          timestamptz NOT NULL,
    -- The client address the link was used from (api/throttle.address_key).
    address          text
);
CREATE INDEX ack_link_uses_alert ON ack_link_uses (alert_id);

-- A link that is not genuine (altered, cut short, made with another key) counts
-- as a failed attempt of its address, with the sign-in failures: one address
-- gets the same budget of guesses whatever it guesses (api/throttle.py).
ALTER TABLE sign_in_failures DROP CONSTRAINT sign_in_failures_door_check;
ALTER TABLE sign_in_failures
    ADD CONSTRAINT sign_in_failures_door_check CHECK (door IN ('login', 'token', 'link'));

-- The landing page of a link shows the patient's current state: a read of the
-- patient's data, recorded like the others.
ALTER TABLE patient_reads DROP CONSTRAINT patient_reads_via_check;
ALTER TABLE patient_reads
    ADD CONSTRAINT patient_reads_via_check CHECK (via IN ('api', 'fhir', 'dashboard', 'link'));
