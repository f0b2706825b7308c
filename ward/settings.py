"""Every setting of the ward, in one place, each from a `VWARD_` environment
variable (conventions.md §5).  Built in each entry point and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ward import redaction, secret_files
from ward.errors import ConfigError

_DEFAULT_SECRET = "demo-secret-change-me"
_DEFAULT_SERVICE_PASSWORD = "demo-service-password"


def _default_home() -> Path:
    return Path.cwd() / ".vward"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VWARD_", extra="ignore")

    home: Path = Field(
        default_factory=_default_home,
        description="Data, logs and configuration of the services `vward up` runs",
    )
    demo: bool = Field(default=True, description="Demo mode: default secrets are allowed")

    # Database.  Left empty, `vward up` runs its own PostgreSQL on pg_port.
    database_url: str = Field(
        default="", description="psycopg URL of an existing TimescaleDB; empty runs our own"
    )
    pg_port: int = Field(default=15432, description="Port of the PostgreSQL that `vward up` runs")
    pg_user: str = Field(
        default="vward",
        description="Role the ward's processes connect as to the PostgreSQL that `vward up` runs:"
        " the owner of the ward's database, no superuser (password: VWARD_HOME/secrets/database)",
    )
    pg_database: str = Field(default="vward", description="Database name")

    # Broker.  RabbitMQ (quorum queues, ingest over AMQP) or any MQTT v5 broker.
    broker: Literal["rabbitmq", "mqtt"] = Field(
        default="rabbitmq",
        description="rabbitmq (quorum queues, ingest over AMQP) or mqtt (any MQTT v5 broker"
        " through $share/ingest/...; `vward up` runs Mosquitto)",
    )
    amqp_urls: str = Field(
        default="",
        description="Comma-separated amqp://host:port of the RabbitMQ nodes ingest and the"
        " outbox may use, tried in turn; empty: the nodes `vward up` runs",
    )
    amqp_port: int = Field(default=18672, description="AMQP port of the first node `vward up` runs")
    broker_admin_port: int = Field(
        default=18671,
        description="HTTP management port of the first RabbitMQ node `vward up` runs"
        " (loopback only)",
    )
    broker_nodes: int = Field(
        default=1, ge=1, le=9,
        description="RabbitMQ nodes `vward up` runs on this host (`vward up --nodes N`)",
    )
    broker_dist_port: int = Field(
        default=18679,
        description="Erlang distribution port of the first RabbitMQ node `vward up` runs",
    )
    broker_epmd_port: int = Field(
        default=18669,
        description="Port of the Erlang port mapper (epmd) of the ward's own RabbitMQ nodes",
    )

    # MQTT.  With mqtt_external the broker is someone else's: `vward up` leaves it alone.
    mqtt_host: str = Field(default="127.0.0.1", description="MQTT broker host")
    mqtt_port: int = Field(default=18830, description="MQTT broker port")
    mqtt_external: bool = Field(default=False, description="The broker is not run by `vward up`")
    mqtt_username: str = Field(
        default="ward-service", description="MQTT user of the ward's own services"
    )
    mqtt_password: str = Field(
        default=_DEFAULT_SERVICE_PASSWORD, description="MQTT password of the ward's own services"
    )

    # Ingest.
    ingest_client_id: str = Field(
        default="vward-ingest-1",
        description="MQTT client id of this ingest worker (persistent session)",
    )
    ingest_batch_size: int = Field(default=10000, description="Readings per COPY batch at most")
    ingest_batch_ms: int = Field(
        default=50, description="Longest a reading waits for its batch [ms]"
    )
    ingest_queue_size: int = Field(
        default=20000, description="Messages held between the MQTT thread and the writer"
    )
    max_payload_bytes: int = Field(
        default=256 * 1024, description="Largest readings message accepted [bytes]"
    )
    max_future_seconds: int = Field(
        default=300, description="How far a reading's time may run ahead of ours (clock skew) [s]"
    )
    max_age_days: int = Field(default=30, description="Oldest backlog reading accepted [days]")
    ingest_heartbeat_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often an ingest worker records its activity in service_heartbeats [s]",
    )

    # Scoring and alerts.
    freshness_minutes: int = Field(
        default=720, description="A parameter older than this is missing from the score [min]"
    )
    alerts_engine_id: str = Field(
        default="vward-alerts-1",
        description="Name of this alerts engine: its queue claims and the actor of its alert"
        " events; give each engine its own",
    )
    alerts_wards: str = Field(
        default="",
        description="Comma-separated wards this alerts engine handles; empty: all"
        " (engines partition by ward)",
    )
    alerts_batch_patients: int = Field(
        default=200, description="Patients the alerts engine scores per transaction at most"
    )
    alerts_claim_seconds: int = Field(
        default=60,
        description="How long an engine's claim on queued patients lasts before another"
        " engine may take them [s]",
    )
    alerts_tick_seconds: float = Field(
        default=5.0,
        description="Interval of the alerts engine's clock-driven checks: overdue,"
        " escalation, hold, devices [s]",
    )
    device_report_minutes: int = Field(
        default=15,
        description="How often a device is expected to report (readings or status);"
        " two missed reports make it offline [min]",
    )

    # Web.
    web_host: str = Field(default="127.0.0.1", description="Address `vward web` listens on")
    web_port: int = Field(default=8050, description="Port `vward web` listens on")
    secret_key: str = Field(default=_DEFAULT_SECRET, description="Signs dashboard sessions")
    session_hours: int = Field(default=12, description="How long a dashboard login lasts [h]")
    web_origins: str = Field(
        default="",
        description="Comma-separated origins (e.g. https://ward.example.org) besides the app's"
        " own from which /login and /logout may be posted (a proxy that rewrites Host)",
    )
    web_pool_size: int = Field(
        default=10, description="Database connections the web app holds at most"
    )
    demo_password: str = Field(
        default="virtual-ward",
        description="Password of the demo clinician `vward web` creates in demo mode",
    )

    @model_validator(mode="after")
    def _refuse_the_superuser_as_the_wards_role(self) -> Settings:
        if self.own_database and self.pg_user == "postgres":
            raise ConfigError(
                "VWARD_PG_USER=postgres: the ward's processes no longer connect as the superuser;"
                " unset VWARD_PG_USER (the owner role is `vward`)")
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_demo(self) -> Settings:
        if not self.demo:
            if self.secret_key == _DEFAULT_SECRET:
                raise ConfigError("VWARD_SECRET_KEY must be set when VWARD_DEMO is false")
            if self.mqtt_password == _DEFAULT_SERVICE_PASSWORD:
                raise ConfigError("VWARD_MQTT_PASSWORD must be set when VWARD_DEMO is false")
        return self

    @property
    def _own_url(self) -> str:
        return f"postgresql://{self.pg_user}@127.0.0.1:{self.pg_port}/{self.pg_database}"

    @property
    def own_database(self) -> bool:
        """True when `vward up` runs the database (no URL, or the URL of our own)."""
        return (not self.database_url
                or redaction.without_password(self.database_url) == self._own_url)

    @property
    def dsn(self) -> str:
        """Where the ward's processes connect: the operator's URL as it is, or
        our own server as the owner role, with its generated password."""
        if not self.own_database:
            return self.database_url
        password = secret_files.secret(self.home, "database")
        quoted = password.replace("\\", "\\\\").replace("'", "\\'")
        return (f"host=127.0.0.1 port={self.pg_port} user={self.pg_user}"
                f" dbname={self.pg_database} password='{quoted}'")

    def as_env(self) -> dict[str, str]:
        """The effective settings as `VWARD_*` variables (`vward config`)."""
        out = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "database_url" and not value:
                value = self._own_url
            if isinstance(value, bool):
                value = "true" if value else "false"
            out[f"VWARD_{name.upper()}"] = str(value)
        return out
