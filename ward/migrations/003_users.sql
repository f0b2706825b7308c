-- Who may use the web app and the API: people (clinicians and admins) who
-- log in with a password, bearer tokens for people and for devices, and the
-- dashboard's login sessions.  Written and read by api/.

CREATE TABLE users (
    user_id        bigserial PRIMARY KEY,
    -- The name a clinician is known by in the audit trail (alerts, settings).
    name           text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    role           text NOT NULL CHECK (role IN ('clinician', 'admin')),
    -- scrypt$N$r$p$salt$hash (hashlib.scrypt); never the password itself.
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- A bearer token belongs to a user or to a device, never both.  Only the
-- SHA-256 of the token is kept: tokens are 256 random bits, so a fast hash
-- loses nothing and keeps a request's check cheap.
CREATE TABLE api_tokens (
    token_id    bigserial PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,
    user_id     bigint REFERENCES users ON DELETE CASCADE,
    device_id   text REFERENCES devices ON DELETE CASCADE,
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_used   timestamptz,
    revoked_at  timestamptz,
    CHECK ((user_id IS NULL) <> (device_id IS NULL))
);
CREATE INDEX api_tokens_user ON api_tokens (user_id) WHERE revoked_at IS NULL;
CREATE INDEX api_tokens_device ON api_tokens (device_id) WHERE revoked_at IS NULL;

-- Dashboard logins: the cookie holds a random session token (signed with
-- VWARD_SECRET_KEY); the server keeps its SHA-256, so a logout or an expiry
-- ends the session wherever the cookie went.
CREATE TABLE sessions (
    session_id    bigserial PRIMARY KEY,
    session_hash  text NOT NULL UNIQUE,
    user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id);
