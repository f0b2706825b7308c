-- Notifications (issue 13): what `vward notifier` sends to the people on call
-- and the ward's admins, each attempt at it, and how far it has read the
-- alert events.  Written by notify/outbox.py (plans) and notify/sender.py
-- (sends); read by the dashboard's figures.  docs/notifications.md.

-- How far the notifier has planned: every alert_events row up to (txid,
-- event_id) in outbox order (as alert_outbox, migration 002).  One row; the
-- planner moves it in the transaction that writes the notifications, so an
-- event is planned once (a crash before the commit plans it again, and the
-- idempotency key makes that harmless).  It starts at this migration's own
-- transaction: the events before the notifier existed are not sent.
CREATE TABLE notify_watermark (
    one          boolean PRIMARY KEY DEFAULT true CHECK (one),
    txid         xid8 NOT NULL,
    event_id     bigint NOT NULL,
    planned      bigint NOT NULL DEFAULT 0,
    planned_at   timestamptz
);
INSERT INTO notify_watermark (txid, event_id) VALUES (pg_current_xact_id(), 0);

-- One message to one person on one channel about one alert event: the durable
-- outbox.  idempotency_key (event + recipient + channel, notify/policy.py) is
-- the same for every attempt and travels with the message (the email's
-- Message-ID, the webhook's Idempotency-Key), so a repeat after a crash can be
-- dropped by whoever receives it.  tier is NULL for an admin (technical alerts).
CREATE TABLE notifications (
    notification_id  bigserial PRIMARY KEY,
    event_id         bigint NOT NULL REFERENCES alert_events,
    alert_id         bigint NOT NULL REFERENCES alerts,
    ward_id          text NOT NULL REFERENCES wards,
    recipient        text NOT NULL,
    tier             smallint CHECK (tier BETWEEN 1 AND 3),
    channel          text NOT NULL CHECK (channel IN ('email', 'webhook', 'sms')),
    -- Where it goes, as the person's contact read when it was planned.
    address          text NOT NULL,
    idempotency_key  text NOT NULL UNIQUE,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    last_error       text,
    CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_alert ON notifications (alert_id, notification_id);
CREATE INDEX notifications_ward_time ON notifications (ward_id, created_at DESC);

-- Every attempt at a notification, append-only: sent, or failed with the error.
CREATE TABLE notification_attempts (
    notification_id  bigint NOT NULL REFERENCES notifications,
    attempt          integer NOT NULL CHECK (attempt >= 1),
    at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    outcome          text NOT NULL CHECK (outcome IN ('sent', 'failed')),
    error            text,
    took_ms          integer,
    PRIMARY KEY (notification_id, attempt)
);

-- Why each notifiable event went to whom (or to nobody: paused, resolved
-- already, nobody on call): the audit of the policy's decision.
CREATE TABLE notify_decisions (
    event_id     bigint PRIMARY KEY REFERENCES alert_events,
    decided_at   timestamptz NOT NULL DEFAULT now(),
    audience     text NOT NULL,
    planned      integer NOT NULL
);

CREATE FUNCTION refuse_attempt_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'notification_attempts is an append-only record of deliveries';
END $$;
CREATE TRIGGER notification_attempts_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON notification_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_attempt_change();

-- `vward notifier` beats like the engines and ingest workers (ward/heartbeats.py).
ALTER TABLE service_heartbeats DROP CONSTRAINT service_heartbeats_component_check;
ALTER TABLE service_heartbeats ADD CONSTRAINT service_heartbeats_component_check
    CHECK (component IN ('alerts', 'ingest', 'notifier'));
