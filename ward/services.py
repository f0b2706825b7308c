"""Start and stop the services the ward runs itself: PostgreSQL with
TimescaleDB and a Mosquitto broker, under `settings.home` on ports of their
own.  Everything here touches processes and files; `broker_config` and
friends, which decide what the files say, are pure."""

from __future__ import annotations

import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ward import broker_names, broker_plugins, db, mqtt_auth, pg_auth, processes, tls, tls_files
from ward.broker_names import RABBITMQ
from ward.errors import ServiceError
from ward.rabbitmq_config import PORT_STEP
from ward.settings import Settings

_PG_STOP_TIMEOUT = 60


@dataclass(frozen=True, slots=True)
class Paths:
    home: Path

    @property
    def pg_data(self) -> Path:
        return self.home / "postgres" / "data"

    @property
    def pg_socket(self) -> Path:
        return self.home / "postgres" / "run"

    @property
    def pg_log(self) -> Path:
        return self.home / "logs" / "postgres.log"

    @property
    def broker_dir(self) -> Path:
        return self.home / "mosquitto"

    @property
    def broker_conf(self) -> Path:
        return self.broker_dir / "mosquitto.conf"

    @property
    def broker_pid(self) -> Path:
        return self.broker_dir / "mosquitto.pid"

    @property
    def broker_passwd(self) -> Path:
        return self.broker_dir / "passwd"

    @property
    def broker_acl(self) -> Path:
        return self.broker_dir / "acl"

    @property
    def broker_log(self) -> Path:
        return self.home / "logs" / "mosquitto.log"

    @property
    def broker_plugin_dir(self) -> Path:
        """The ward's Mosquitto plugin, built by `vward up` (ward/broker_plugins.py)."""
        return self.broker_dir / "plugin"

    @property
    def broker_tls(self) -> Path:
        """Mosquitto's own copy of the TLS files (ward/tls_files.py)."""
        return self.broker_dir / "tls"


# ---------------------------------------------------------------- PostgreSQL


def _pg_bin(name: str) -> str:
    majors = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / name).exists()),
        key=lambda p: int(p.parent.name),
    )
    if majors:
        return str(majors[-1] / name)
    found = shutil.which(name)
    if not found:
        raise ServiceError(
            f"PostgreSQL's {name} is not installed: run `make demo` or ward/scripts/bootstrap.sh"
        )
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as `postgres`."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _chown_to(path: Path, user: str) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def _ensure_traversable(path: Path) -> None:
    """The postgres and mosquitto users must reach their directories."""
    if os.geteuid() != 0:
        return
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


def pg_running(settings: Settings) -> bool:
    """Whether our server answers; a ServiceError when a server answers but
    refuses our superuser's password (another server, or a lost secret)."""
    try:
        with pg_auth.connect_superuser(settings, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def start_postgres(settings: Settings) -> None:
    paths = Paths(settings.home)
    if not (paths.pg_data / "PG_VERSION").exists():
        paths.pg_data.mkdir(parents=True, exist_ok=True)
        paths.pg_socket.mkdir(parents=True, exist_ok=True)
        _ensure_traversable(settings.home)
        _chown_to(paths.pg_data.parent, "postgres")
        with pg_auth.initdb_password_file(settings, paths.pg_data.parent) as pwfile:
            _run(
                _as_postgres(
                    [
                        _pg_bin("initdb"),
                        "-D",
                        str(paths.pg_data),
                        "-U",
                        pg_auth.SUPERUSER,
                        "--auth=scram-sha-256",
                        f"--pwfile={pwfile}",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                "initdb",
            )
        with open(paths.pg_data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(_postgres_conf(settings, paths))
        pg_auth.write_hba(paths.pg_data)
    if pg_running(settings):
        _refuse_foreign_server(settings, paths)
        return
    paths.pg_log.parent.mkdir(parents=True, exist_ok=True)
    paths.pg_socket.mkdir(parents=True, exist_ok=True)
    _ensure_traversable(settings.home)
    _chown_to(paths.pg_socket, "postgres")
    if os.geteuid() == 0:
        paths.pg_log.touch()
        os.chmod(paths.pg_log, 0o600)  # its errors may quote a patient's data
        _chown_to(paths.pg_log, "postgres")
    _run(
        _as_postgres(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(paths.pg_data),
                "-l",
                str(paths.pg_log),
                "-o",
                f"-p {settings.pg_port}",
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        "pg_ctl start",
        log=paths.pg_log,
    )


def _refuse_foreign_server(settings: Settings, paths: Paths) -> None:
    """A server already answers on our port: carry on only if it is ours, so
    that `vward up` never migrates somebody else's database."""
    with pg_auth.connect_superuser(settings, connect_timeout=2) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    theirs = Path(row[0]).resolve() if row else None
    if theirs != paths.pg_data.resolve():
        raise ServiceError(
            f"another PostgreSQL (data directory {theirs}) already listens on port"
            f" {settings.pg_port}; set VWARD_PG_PORT to a free port, or VWARD_DATABASE_URL"
            " to use that server on purpose"
        )


def _postgres_conf(settings: Settings, paths: Paths) -> str:
    return (
        "\n# written by vward up\n"
        f"port = {settings.pg_port}\n"
        "listen_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{paths.pg_socket}'\n"
        "password_encryption = 'scram-sha-256'\n"
        "shared_preload_libraries = 'timescaledb'\n"
        "timescaledb.telemetry_level = off\n"
        "max_connections = 200\n"
        "shared_buffers = 512MB\n"
        "max_wal_size = 4GB\n"
        "logging_collector = off\n"
    )


def stop_postgres(settings: Settings, *, mode: str = "fast") -> None:
    paths = Paths(settings.home)
    if not (paths.pg_data / "postmaster.pid").exists():
        return
    subprocess.run(
        _as_postgres(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(paths.pg_data),
                "-m",
                mode,
                "-w",
                "-t",
                str(_PG_STOP_TIMEOUT),
                "stop",
            ]
        ),
        capture_output=True,
        check=False,
    )


# ---------------------------------------------------------------- Mosquitto


def broker_config(settings: Settings, paths: Paths) -> str:
    """Our broker: no anonymous clients, per-device ACLs, persistent sessions
    that never drop a queued message, and room for an ingest worker that acks
    only after commit (so many messages are in flight at once)."""
    return "\n".join(
        [
            "# written by vward up; regenerated on every start",
            "per_listener_settings false",
            f"listener {settings.mqtt_port} 127.0.0.1",
            # MQTT over TLS on every interface (home devices come over the internet),
            # TLS 1.2 at least; devices are known by their passwords, not certificates.
            f"listener {settings.mqtt_tls_port}",
            f"cafile {paths.broker_tls / tls.CA_NAME}",
            f"certfile {paths.broker_tls / tls.CERT_NAME}",
            f"keyfile {paths.broker_tls / tls.KEY_NAME}",
            "tls_version tlsv1.2",
            "allow_anonymous false",
            # Client ids bound to users and SUBSCRIBE checked, before the files below.
            *mqtt_auth.plugin_config(str(paths.broker_plugin_dir / "vward_auth.so")),
            f"password_file {paths.broker_passwd}",
            f"acl_file {paths.broker_acl}",
            "persistence true",
            f"persistence_location {paths.broker_dir}/data/",
            "autosave_interval 5",
            # Ingest acks after commit: a batch of thousands is in flight at once.
            "max_inflight_messages 5000",
            # 0 = no limit: a queued reading for an offline ingest worker is never dropped.
            "max_queued_messages 0",
            "max_queued_bytes 0",
            # One connection per home device (10,000 for one simulator); the open-file
            # limit that bounds it is raised in start_broker.
            "max_connections -1",
            "persistent_client_expiration 14d",
            f"message_size_limit {max(settings.max_payload_bytes * 4, 1024 * 1024)}",
            f"log_dest file {paths.broker_log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            f"pid_file {paths.broker_pid}",
            "",
        ]
    )


def broker_pid(settings: Settings) -> int | None:
    """Mosquitto's pid while it runs (a zombie's does not: issue 9)."""
    pidfile = Paths(settings.home).broker_pid
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if processes.running(pid) else None


def sync_broker(settings: Settings, conn: psycopg.Connection | None = None, *,
                new: list[str] | None = None) -> str:
    """Give the broker `vward up` runs the database's device credentials:
    RabbitMQ's users through its management API (only what changed; only the
    devices `new` when they are named, as after a registration), or
    Mosquitto's password and ACL files.  Returns a line for the operator."""
    from ward import devices

    if conn is None:
        with db.connect(settings) as own:
            return sync_broker(settings, own, new=new)
    if settings.broker == RABBITMQ:
        from ward import rabbitmq_admin

        r = rabbitmq_admin.sync_users(settings, devices.rabbitmq_hashes(conn, new),
                                      full=new is None)
        return (f"broker users: {r.imported} created or updated, {r.deleted} removed"
                f" ({r.seconds:.1f} s)")
    _write_mosquitto_credentials(settings, devices.password_hashes(conn))
    return "broker credentials written"


def manages_broker_users(settings: Settings) -> bool:
    """Whether the ward gives the broker its users: the broker `vward up`
    runs, or an external RabbitMQ whose admin password the ward was given."""
    from ward import rabbitmq_config

    if not settings.mqtt_external:
        return True
    return (settings.broker == RABBITMQ
            and rabbitmq_config.admin_password_file(settings.home).exists())


def write_broker_credentials(settings: Settings, device_hashes: dict[str, str]) -> None:
    """Write the password and ACL files from the database's device hashes and
    make a running broker reread them.  With RabbitMQ (VWARD_BROKER) the
    users come from the database's RabbitMQ hashes instead (`sync_broker`)."""
    if settings.broker == RABBITMQ:
        if manages_broker_users(settings):
            sync_broker(settings)
    else:
        _write_mosquitto_credentials(settings, device_hashes)


def _write_mosquitto_credentials(settings: Settings, device_hashes: dict[str, str]) -> None:
    from ward import broker_users

    paths = Paths(settings.home)
    paths.broker_dir.mkdir(parents=True, exist_ok=True)
    # A device never takes a service's name (ward/devices.py refuses one; an
    # id registered before issue 10 as `ward-service` is only a device now).
    users = {d: h for d, h in device_hashes.items() if not broker_names.is_service_user(d)}
    users.update({c.username: mqtt_auth.hash_password(c.password)
                  for c in broker_users.all_credentials(settings)})
    _write_private(paths.broker_passwd, mqtt_auth.password_file(users))
    _write_private(paths.broker_acl, mqtt_auth.acl_file())
    pid = broker_pid(settings)
    if pid:
        os.kill(pid, signal.SIGHUP)


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o600)
    if os.geteuid() == 0:
        _chown_to(tmp, "mosquitto")
    tmp.replace(path)


def raise_open_files_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit (a 1,024
    default would stop the broker near 1,000 devices); returns the soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # the kernel's cap (fs.nr_open) is lower: keep what we have
    return soft


def start_broker(settings: Settings, device_hashes: dict[str, str]) -> None:
    paths = Paths(settings.home)
    (paths.broker_dir / "data").mkdir(parents=True, exist_ok=True)
    paths.broker_log.parent.mkdir(parents=True, exist_ok=True)
    tls_files.install(settings, paths.broker_tls, "mosquitto" if os.geteuid() == 0 else None)
    broker_plugins.mosquitto_plugin(paths.broker_plugin_dir)
    paths.broker_conf.write_text(broker_config(settings, paths), encoding="utf-8")
    _write_mosquitto_credentials(settings, device_hashes)
    if broker_pid(settings):
        return
    if _port_open(settings.mqtt_host, settings.mqtt_port):
        raise ServiceError(
            f"another program already listens on port {settings.mqtt_port}; set"
            " VWARD_MQTT_PORT to a free port, or VWARD_MQTT_EXTERNAL=true with"
            " VWARD_MQTT_HOST/PORT to use that broker on purpose"
        )
    if _port_open("127.0.0.1", settings.mqtt_tls_port):
        raise ServiceError(f"another program already listens on port {settings.mqtt_tls_port};"
                           " set VWARD_MQTT_TLS_PORT to a free port")
    _ensure_traversable(settings.home)
    if os.geteuid() == 0:
        # mosquitto started as root drops to the `mosquitto` user.
        paths.broker_log.touch()
        _chown_to(paths.broker_dir, "mosquitto")
        _chown_to(paths.broker_log, "mosquitto")
    raise_open_files_limit()  # inherited by mosquitto: one descriptor per connected device
    _run(["mosquitto", "-d", "-c", str(paths.broker_conf)], "mosquitto", log=paths.broker_log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (broker_pid(settings) and _port_open(settings.mqtt_host, settings.mqtt_port)
                and _port_open("127.0.0.1", settings.mqtt_tls_port)):
            return
        time.sleep(0.05)
    raise ServiceError(f"mosquitto did not start; see {paths.broker_log}")


def ensure_ingest_session(settings: Settings, *, broker_started: bool = True) -> str:
    """Make sure the first ingest worker's persistent session and its shared
    subscription exist at the MQTT broker (`VWARD_BROKER=mqtt`), so that
    readings published while no worker is connected are queued for it rather
    than answered "no matching subscribers" and dropped (MQTT keeps messages
    only for subscriptions that exist).  Returns a line for the operator.

    It subscribes whatever "session present" says: Mosquitto restores a
    session from its persistence file after a crash, but not its shared
    subscriptions (issue 9).  It connects with the worker's client id, which
    would push a connected worker off (a session takeover); so on a broker
    that was already running (`broker_started` false), where the subscription
    lives as long as the session, it leaves the session alone while the
    worker's heartbeat says it runs: the worker subscribes on every connect.
    A worker that takes the session over meanwhile ends our connection: the
    worker then holds the session and subscribes, which is as good."""
    import threading
    from typing import Any

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.subscribeoptions import SubscribeOptions

    from ward import broker_users
    from ward.domain import INGEST_SESSION_EXPIRY, INGEST_SUBSCRIPTIONS

    worker = settings.ingest_client_id
    if not broker_started and _ingest_worker_running(settings):
        return f"ingest worker {worker} is running: its session is left to it"
    done = threading.Event()
    state: dict[str, Any] = {}
    # manual_ack: whatever the session holds is sent to us as soon as we
    # connect, and must stay unacked, for the worker (paho would ack it).
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=worker, protocol=mqtt.MQTTv5,
                         reconnect_on_failure=False, manual_ack=True)
    creds = broker_users.credentials(settings, broker_names.INGEST)
    client.username_pw_set(creds.username, creds.password)

    def on_connect(c, userdata, flags, reason_code, properties):
        state["rc"] = reason_code
        if reason_code.is_failure:
            done.set()
            return
        c.subscribe([(t, SubscribeOptions(qos=1)) for t in INGEST_SUBSCRIPTIONS])

    def on_subscribe(c, userdata, mid, reason_codes, properties):
        state["granted"] = reason_codes
        done.set()

    def on_disconnect(c, userdata, flags, reason_code, properties):
        state.setdefault("dropped", reason_code)
        done.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_disconnect = on_disconnect
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = INGEST_SESSION_EXPIRY
    try:
        client.connect(
            settings.mqtt_host,
            settings.mqtt_port,
            keepalive=10,
            clean_start=False,
            properties=props,
        )
    except OSError as exc:
        raise ServiceError(
            f"cannot reach the broker at {settings.mqtt_host}:{settings.mqtt_port}: {exc}"
        ) from exc
    client.loop_start()
    try:
        if not done.wait(10):
            raise ServiceError("the broker did not answer while creating the ingest session")
        rc, granted = state.get("rc"), state.get("granted")
        if rc is None:
            raise ServiceError("the broker closed the connection before answering it:"
                               f" {state.get('dropped')}")
        if rc.is_failure:
            raise ServiceError(f"the broker refused the ward's ingest user {creds.username}: {rc}")
        if granted is not None:
            refused = [str(g) for g in granted if g.is_failure]
            if refused:
                raise ServiceError(
                    f"the broker refused the ingest subscriptions: {', '.join(refused)}"
                )
            return f"ingest session {worker} subscribed to {', '.join(INGEST_SUBSCRIPTIONS)}"
        # Dropped between CONNACK and SUBACK: a worker connecting with the
        # same client id takes the session over (Mosquitto closes the socket,
        # which paho reports as "Unspecified error", not as 0x8E).
        return (f"ingest worker {worker} took its session over ({state.get('dropped')}):"
                " it subscribes itself")
    finally:
        client.disconnect()
        client.loop_stop()


def _ingest_worker_running(settings: Settings) -> bool:
    """Whether the worker named VWARD_INGEST_CLIENT_ID has a fresh heartbeat
    (ward/health.py's judgement), so may hold its session now."""
    from ward import health, heartbeats

    try:
        with db.connect(settings) as conn:
            now, rows = heartbeats.read(conn)
    except psycopg.Error:
        return False
    return any(w.running for w in health.judge_ingest(rows, now)
               if w.row.instance_id == settings.ingest_client_id)


def _loads_plugin(settings: Settings) -> bool:
    """Whether the running Mosquitto's configuration loads the ward's plugin."""
    try:
        text = Paths(settings.home).broker_conf.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return "vward_auth.so" in text


def stop_broker(settings: Settings) -> None:
    pid = broker_pid(settings)
    if not pid:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not processes.running(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _port_open(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _run(cmd: list[str], what: str, *, log: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = ""
        if log and log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ServiceError(
            f"{what} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}".strip()
        )


# ---------------------------------------------------------------- up / down


def up(settings: Settings, *, nodes: int | None = None,
       progress: Callable[[str], None] | None = None) -> list[str]:
    """Start what we run ourselves, apply migrations, sync broker credentials.

    Idempotent.  Returns what it did, for the operator; `progress` hears of
    each slow step as it begins (RabbitMQ nodes take 10-20 s to start).
    `nodes` overrides VWARD_BROKER_NODES.
    """
    done: list[str] = []
    if settings.own_database:
        was_running = pg_running(settings)
        start_postgres(settings)
        done.append(
            ("PostgreSQL already running" if was_running else "started PostgreSQL")
            + f" on 127.0.0.1:{settings.pg_port}"
        )
        done += pg_auth.secure(settings, Paths(settings.home).pg_data)
    applied = db.migrate(settings)
    done.append(f"applied migrations: {', '.join(applied)}" if applied else "schema up to date")
    if not settings.mqtt_external:
        done += tls_files.ensure(settings)
    if settings.broker == RABBITMQ:
        from ward import rabbitmq, rabbitmq_admin

        if not manages_broker_users(settings):
            done.append("note: external RabbitMQ (VWARD_MQTT_EXTERNAL) without the password of"
                        " its vward-admin user: declare the topology and users yourself"
                        " (docs/scaling.md)")
            return done
        if settings.mqtt_external:  # the operator's cluster: topology and users only
            with rabbitmq_admin.client(settings) as api:
                rabbitmq_admin.declare_topology(api)
            done.append(f"topology declared on {settings.mqtt_host}")
        else:
            done += rabbitmq.start(settings, nodes, progress=progress)
        done.append(sync_broker(settings))
    elif not settings.mqtt_external:
        from ward import devices

        was_running = broker_pid(settings) is not None
        if was_running and not _loads_plugin(settings):
            # Started before issue 10: Mosquitto loads plugins only at start.
            stop_broker(settings)
            was_running = False
            done.append("stopped Mosquitto to load the ward's client-id and subscription check")
        with db.connect(settings) as conn:
            hashes = devices.password_hashes(conn)
        # A Mosquitto we start has lost its shared subscriptions (a crash, a
        # restart): devices are let in only once the ingest session has
        # subscribed again, or what they publish first finds no subscriber.
        start_broker(settings, hashes if was_running else {})
        session = ensure_ingest_session(settings, broker_started=not was_running)
        if not was_running:
            write_broker_credentials(settings, hashes)
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
    if not settings.mqtt_external and broker_pid(settings):
        stop_broker(settings)
        done.append("stopped Mosquitto")
    if not settings.mqtt_external:
        done += rabbitmq.stop(settings, kill=discarding)  # whichever VWARD_BROKER started them
    if settings.own_database and (Paths(settings.home).pg_data / "postmaster.pid").exists():
        stop_postgres(settings, mode="immediate" if discarding else "fast")
        done.append("stopped PostgreSQL")
    return done or ["nothing was running"]


# ---------------------------------------------------------------- scratch services


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_settings(prefix: str, **overrides: object) -> Settings:
    """Settings for services of their own, in a new temporary directory on free
    ports (tests, benchmarks): never the ward's own `.vward`."""
    ports = _free_port_block(7)
    values: dict[str, object] = {
        "home": Path(tempfile.mkdtemp(prefix=prefix)), "pg_port": ports[0],
        "mqtt_port": ports[1], "database_url": "", "mqtt_external": False,
        # RabbitMQ's (node i: + 10·i), its Erlang distribution and its own epmd.
        "amqp_port": ports[2], "broker_admin_port": ports[3], "broker_dist_port": ports[4],
        "broker_epmd_port": ports[5], "broker_nodes": 1, "amqp_urls": "",
        "mqtt_tls_port": ports[6],
    }
    return Settings(**{**values, **overrides})


# Scratch clusters may grow to this many nodes on one host (node i: + PORT_STEP·i).
SCRATCH_NODES = 3


def _free_port_block(count: int) -> list[int]:
    """`count` consecutive ports that are free, with every node's offset of
    them free too, drawn below the kernel's ephemeral range: a port the kernel
    hands out (bind to 0) may be the base of node 0 and yet leave node 1's
    `+10` to any outgoing connection, which then holds it when the cluster
    grows (it did, in CI)."""
    low, high = _ephemeral_range()
    span = PORT_STEP * (SCRATCH_NODES - 1) + count
    floor, ceiling = 20000, max(20000 + span + 1, min(low, 61000) - span)
    if low < 21000:  # the ephemeral range starts low: take ports above it
        floor, ceiling = high + 1, 65535 - span
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(floor, ceiling)
        wanted = [base + k + PORT_STEP * i for i in range(SCRATCH_NODES) for k in range(count)]
        if all(_port_is_free(p) for p in wanted):
            return [base + k for k in range(count)]
    raise ServiceError("no block of free ports found for scratch services")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def discard(settings: Settings) -> None:
    """Stop scratch services and remove their directory."""
    try:
        down(settings, discarding=True)
    finally:
        shutil.rmtree(settings.home, ignore_errors=True)


@contextmanager
def scratch(prefix: str, **overrides: object) -> Iterator[Settings]:
    """Start PostgreSQL+TimescaleDB and the broker (VWARD_BROKER: RabbitMQ or
    Mosquitto) of their own, yield their settings, and stop and remove them
    afterwards, whatever happened."""
    settings = scratch_settings(prefix, **overrides)
    try:
        broker = "RabbitMQ" if settings.broker == RABBITMQ else "Mosquitto"
        print(f"starting PostgreSQL+TimescaleDB and {broker} of the benchmark's own ...",
              flush=True)
        up(settings)
        yield settings
    finally:
        discard(settings)
