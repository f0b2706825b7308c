-- The web edge (issue 10, items 11 and 16): password guessing is counted and
-- refused, and every read of a patient's data is recorded.  In the database,
-- so that every web process behind one address shares the same counts.
-- Written and read by api/signin.py and ward/access_log.py.

-- Failed sign-ins (the login form and POST /api/v1/auth/token) of the last
-- window, counted per account name and per client address (api/throttle.py).
-- A counter, not a record: a success deletes its account's rows, an unlock
-- deletes the lifted key's rows, and rows older than the window are pruned.
CREATE TABLE sign_in_failures (
    failure_id  bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    -- The name as typed (there may be no such user: unknown names are
    -- counted alike, so the answers do not tell which names exist).
    account     text NOT NULL,
    -- The client address, an IPv6 one cut to its /64 (api/throttle.address_key).
    address     text NOT NULL,
    door        text NOT NULL CHECK (door IN ('login', 'token'))
);
CREATE INDEX sign_in_failures_account ON sign_in_failures (account, at);
CREATE INDEX sign_in_failures_address ON sign_in_failures (address, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);

-- Every lock-out, kept: which account or address, when, until when, after how
-- many failures, and who lifted it early (`vward user unlock`, the admin route).
CREATE TABLE sign_in_locks (
    lock_id       bigserial PRIMARY KEY,
    scope         text NOT NULL CHECK (scope IN ('account', 'address')),
    key           text NOT NULL,
    locked_at     timestamptz NOT NULL,
    locked_until  timestamptz NOT NULL CHECK (locked_until > locked_at),
    failures      integer NOT NULL,
    -- The address of the failure that set the lock (for an account lock).
    last_address  text NOT NULL,
    lifted_at     timestamptz,
    lifted_by     text
);
CREATE INDEX sign_in_locks_key ON sign_in_locks (scope, key, locked_until DESC);

-- Who read which patient's data, when, and through what (the API, FHIR, the
-- dashboard).  One row per request at most, and one per person, patient, door
-- and kind of read in a minute: a dashboard page that refreshes every 5 s is
-- one row a minute, not twelve.  Append-only, as alert_events.
CREATE TABLE patient_reads (
    read_id     bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    -- Whole minutes since 1970 of `at`: the unit of coalescing above.
    minute      bigint NOT NULL,
    actor       text NOT NULL,
    role        text NOT NULL,
    patient_id  text NOT NULL,
    via         text NOT NULL CHECK (via IN ('api', 'fhir', 'dashboard')),
    -- What was read: 'patient', 'scores', 'observations', 'alerts', 'patient page', ...
    what        text NOT NULL,
    address     text,
    UNIQUE (patient_id, actor, via, what, minute)
);
CREATE INDEX patient_reads_patient ON patient_reads (patient_id, at DESC);
CREATE INDEX patient_reads_actor ON patient_reads (actor, at DESC);

CREATE FUNCTION refuse_read_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'patient_reads is an append-only audit trail';
END $$;
CREATE TRIGGER patient_reads_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON patient_reads
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_read_log_change();
