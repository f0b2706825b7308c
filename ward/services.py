"""`vward up` and `vward down`: every service the ward runs itself, in order.
Each service's own life is its module's: PostgreSQL ward/postgres.py,
RabbitMQ ward/rabbitmq.py, Mosquitto ward/mosquitto.py; who the broker lets
in, ward/broker.py.  Scratch services for tests and benchmarks are
ward/scratch.py's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ward import broker, db, mosquitto, pg_auth, postgres, tls_files
from ward.broker_names import RABBITMQ
from ward.errors import ServiceError
from ward.settings import Settings


class IngestSession(Protocol):
    """Ingest's own: make sure its persistent MQTT session and subscription
    exist at Mosquitto (ingest/mqtt_session.py `ensure`); returns a line for
    the operator.  Passed in by the composition root (ward/cli.py, tests,
    benchmarks): ward imports no stage."""

    def __call__(self, settings: Settings, *, broker_started: bool) -> str: ...


def up(settings: Settings, *, nodes: int | None = None,
       progress: Callable[[str], None] | None = None,
       ingest_session: IngestSession | None = None) -> list[str]:
    """Start what we run ourselves, apply migrations, sync broker credentials.

    Idempotent.  Returns what it did, for the operator; `progress` hears of
    each slow step as it begins (RabbitMQ nodes take 10-20 s to start).
    `nodes` overrides VWARD_BROKER_NODES.  `ingest_session` is needed when
    the ward runs Mosquitto (VWARD_BROKER=mqtt).
    """
    runs_mosquitto = settings.broker != RABBITMQ and not settings.mqtt_external
    if runs_mosquitto and ingest_session is None:  # before anything starts
        raise ServiceError("starting Mosquitto needs ingest's session maker"
                           " (ingest.mqtt_session.ensure): pass ingest_session")
    done: list[str] = []
    if settings.own_database:
        was_running = postgres.running(settings)
        postgres.start(settings)
        done.append(
            ("PostgreSQL already running" if was_running else "started PostgreSQL")
            + f" on 127.0.0.1:{settings.pg_port}"
        )
        done += pg_auth.secure(settings, postgres.Paths(settings.home).data)
    applied = db.migrate(settings)
    done.append(f"applied migrations: {', '.join(applied)}" if applied else "schema up to date")
    if not settings.mqtt_external:
        done += tls_files.ensure(settings)
    if settings.broker == RABBITMQ:
        done += _up_rabbitmq(settings, nodes, progress)
    elif runs_mosquitto and ingest_session is not None:
        done += _up_mosquitto(settings, ingest_session)
    return done


def _up_rabbitmq(settings: Settings, nodes: int | None,
                 progress: Callable[[str], None] | None) -> list[str]:
    from ward import rabbitmq, rabbitmq_admin

    if not broker.manages_users(settings):
        return ["note: external RabbitMQ (VWARD_MQTT_EXTERNAL) without the password of"
                " its vward-admin user: declare the topology and users yourself"
                " (docs/scaling.md)"]
    done: list[str] = []
    if settings.mqtt_external:  # the operator's cluster: topology and users only
        with rabbitmq_admin.client(settings) as api:
            rabbitmq_admin.declare_topology(api)
        done.append(f"topology declared on {settings.mqtt_host}")
    else:
        done += rabbitmq.start(settings, nodes, progress=progress)
    done.append(broker.sync_users(settings))
    return done


def _up_mosquitto(settings: Settings, ingest_session: IngestSession) -> list[str]:
    from ward import devices

    done: list[str] = []
    was_running = mosquitto.pid(settings) is not None
    if was_running and not mosquitto.loads_plugin(settings):
        # Started before issue 10: Mosquitto loads plugins only at start.
        mosquitto.stop(settings)
        was_running = False
        done.append("stopped Mosquitto to load the ward's client-id and subscription check")
    with db.connect(settings) as conn:
        hashes = devices.password_hashes(conn)
    # A Mosquitto we start has lost its shared subscriptions (a crash, a
    # restart): devices are let in only once the ingest session has
    # subscribed again, or what they publish first finds no subscriber.
    mosquitto.start(settings, hashes if was_running else {})
    session = ingest_session(settings, broker_started=not was_running)
    if not was_running:
        mosquitto.write_credentials(settings, hashes)
    done.append(
        ("Mosquitto already running" if was_running else "started Mosquitto")
        + f" on {settings.mqtt_host}:{settings.mqtt_port}, MQTT over TLS on port"
        f" {settings.mqtt_tls_port} of every interface"
    )
    done.append(session)
    return done


def down(settings: Settings, *, discarding: bool = False) -> list[str]:
    """Stop what `up` started.  `discarding`: the data goes next, so nothing
    needs a clean stop (RabbitMQ's takes about 5 s a node)."""
    from ward import rabbitmq

    done = []
    if not settings.mqtt_external and mosquitto.pid(settings):
        mosquitto.stop(settings)
        done.append("stopped Mosquitto")
    if not settings.mqtt_external:
        done += rabbitmq.stop(settings, kill=discarding)  # whichever VWARD_BROKER started them
    if settings.own_database and (postgres.Paths(settings.home).data / "postmaster.pid").exists():
        postgres.stop(settings, mode="immediate" if discarding else "fast")
        done.append("stopped PostgreSQL")
    return done or ["nothing was running"]
