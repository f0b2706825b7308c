-- RabbitMQ's own password hash of each device (rabbit_password_hashing_sha256:
-- base64 of a 4-byte salt and sha256(salt + password)), computed at registration
-- beside mqtt_password_hash: `vward up` and `vward device add` recreate every
-- broker user from the database, which stays the one source of credentials.
-- NULL for a device registered before this migration: its password is not
-- kept anywhere, so it is given a new one by registering it again.
ALTER TABLE devices ADD COLUMN rabbitmq_password_hash text;
