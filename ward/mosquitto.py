"""The Mosquitto broker of the MQTT option (`VWARD_BROKER=mqtt`): its
configuration (`config`, pure), its password and ACL files, and its life
under `settings.home` on ports of its own.  RabbitMQ, the default broker,
is ward/rabbitmq.py's; which of the two gets the devices' users,
ward/broker.py's."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from ward import broker_names, broker_plugins, mqtt_auth, processes, tls, tls_files
from ward.errors import ServiceError
from ward.processes import chown_tree, ensure_traversable, port_open
from ward.settings import Settings


@dataclass(frozen=True, slots=True)
class Paths:
    home: Path

    @property
    def dir(self) -> Path:
        return self.home / "mosquitto"

    @property
    def conf(self) -> Path:
        return self.dir / "mosquitto.conf"

    @property
    def pid(self) -> Path:
        return self.dir / "mosquitto.pid"

    @property
    def passwd(self) -> Path:
        return self.dir / "passwd"

    @property
    def acl(self) -> Path:
        return self.dir / "acl"

    @property
    def log(self) -> Path:
        return self.home / "logs" / "mosquitto.log"

    @property
    def plugin_dir(self) -> Path:
        """The ward's Mosquitto plugin, built by `vward up` (ward/broker_plugins.py)."""
        return self.dir / "plugin"

    @property
    def tls(self) -> Path:
        """Mosquitto's own copy of the TLS files (ward/tls_files.py)."""
        return self.dir / "tls"


def config(settings: Settings, paths: Paths) -> str:
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
            f"cafile {paths.tls / tls.CA_NAME}",
            f"certfile {paths.tls / tls.CERT_NAME}",
            f"keyfile {paths.tls / tls.KEY_NAME}",
            "tls_version tlsv1.2",
            "allow_anonymous false",
            # Client ids bound to users and SUBSCRIBE checked, before the files below.
            *mqtt_auth.plugin_config(str(paths.plugin_dir / "vward_auth.so")),
            f"password_file {paths.passwd}",
            f"acl_file {paths.acl}",
            "persistence true",
            f"persistence_location {paths.dir}/data/",
            "autosave_interval 5",
            # Ingest acks after commit: a batch of thousands is in flight at once.
            "max_inflight_messages 5000",
            # 0 = no limit: a queued reading for an offline ingest worker is never dropped.
            "max_queued_messages 0",
            "max_queued_bytes 0",
            # One connection per home device (10,000 for one simulator); the open-file
            # limit that bounds it is raised in start.
            "max_connections -1",
            "persistent_client_expiration 14d",
            f"message_size_limit {max(settings.max_payload_bytes * 4, 1024 * 1024)}",
            f"log_dest file {paths.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            f"pid_file {paths.pid}",
            "",
        ]
    )


def pid(settings: Settings) -> int | None:
    """Mosquitto's pid while it runs (a zombie's does not: issue 9)."""
    try:
        found = int(Paths(settings.home).pid.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return found if processes.running(found) else None


def loads_plugin(settings: Settings) -> bool:
    """Whether the running Mosquitto's configuration loads the ward's plugin
    (one started before issue 10 does not, and loads plugins only at start)."""
    try:
        text = Paths(settings.home).conf.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return "vward_auth.so" in text


def write_credentials(settings: Settings, device_hashes: dict[str, str]) -> None:
    """Write the password and ACL files from the database's device hashes and
    the services' own users, and make a running broker reread them."""
    from ward import broker_users

    paths = Paths(settings.home)
    paths.dir.mkdir(parents=True, exist_ok=True)
    # A device never takes a service's name (ward/devices.py refuses one; an
    # id registered before issue 10 as `ward-service` is only a device now).
    users = {d: h for d, h in device_hashes.items() if not broker_names.is_service_user(d)}
    users.update({c.username: mqtt_auth.hash_password(c.password)
                  for c in broker_users.all_credentials(settings)})
    _write_private(paths.passwd, mqtt_auth.password_file(users))
    _write_private(paths.acl, mqtt_auth.acl_file())
    running = pid(settings)
    if running:
        os.kill(running, signal.SIGHUP)


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o600)
    if os.geteuid() == 0:
        chown_tree(tmp, "mosquitto")
    tmp.replace(path)


def start(settings: Settings, device_hashes: dict[str, str]) -> None:
    """Write the configuration and credentials (`device_hashes`: the devices
    let in) and start Mosquitto unless it runs; a ServiceError if another
    program holds its ports or it does not come up within 10 s."""
    paths = Paths(settings.home)
    (paths.dir / "data").mkdir(parents=True, exist_ok=True)
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    tls_files.install(settings, paths.tls, "mosquitto" if os.geteuid() == 0 else None)
    broker_plugins.mosquitto_plugin(paths.plugin_dir)
    paths.conf.write_text(config(settings, paths), encoding="utf-8")
    write_credentials(settings, device_hashes)
    if pid(settings):
        return
    _refuse_taken_ports(settings)
    ensure_traversable(settings.home)
    if os.geteuid() == 0:
        # mosquitto started as root drops to the `mosquitto` user.
        paths.log.touch()
        chown_tree(paths.dir, "mosquitto")
        chown_tree(paths.log, "mosquitto")
    processes.raise_open_files_limit()  # inherited: one descriptor per connected device
    processes.run(["mosquitto", "-d", "-c", str(paths.conf)], "mosquitto", log=paths.log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (pid(settings) and port_open(settings.mqtt_host, settings.mqtt_port)
                and port_open("127.0.0.1", settings.mqtt_tls_port)):
            return
        time.sleep(0.05)
    raise ServiceError(f"mosquitto did not start; see {paths.log}")


def _refuse_taken_ports(settings: Settings) -> None:
    if port_open(settings.mqtt_host, settings.mqtt_port):
        raise ServiceError(
            f"another program already listens on port {settings.mqtt_port}; set"
            " VWARD_MQTT_PORT to a free port, or VWARD_MQTT_EXTERNAL=true with"
            " VWARD_MQTT_HOST/PORT to use that broker on purpose"
        )
    if port_open("127.0.0.1", settings.mqtt_tls_port):
        raise ServiceError(f"another program already listens on port {settings.mqtt_tls_port};"
                           " set VWARD_MQTT_TLS_PORT to a free port")


def stop(settings: Settings) -> None:
    """SIGTERM, and SIGKILL if it still runs after 15 s."""
    running = pid(settings)
    if not running:
        return
    os.kill(running, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not processes.running(running):
            return
        time.sleep(0.05)
    os.kill(running, signal.SIGKILL)
