"""The notifier: alert events → messages to the people on call (email, a signed
webhook, SMS through a gateway), through a durable outbox in the database, each
attempt recorded, retried with backoff, a delivery that keeps failing raising
``notification_failed`` for the ward's admins.  The data flow is ingest →
alerts → notify; `vward notifier` is its process (docs/notifications.md)."""
