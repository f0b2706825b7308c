"""What the ward's RabbitMQ nodes are, pure: each node's name, ports and
directories, its environment and configuration file, the order nodes start
and stop in, and the topology `vward up` declares (docs/operating.md,
"Broker").  The users and rights synced from the database are
ward/rabbitmq_users.py's.  ward/rabbitmq.py runs the processes and
ward/rabbitmq_admin.py speaks to the management API; both only carry out
what these modules decide."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ward import broker_names as names
from ward import tls
from ward.settings import Settings

# Node i of a cluster on one host uses each first port + PORT_STEP * i.
PORT_STEP = 10
ADMIN_USER = "vward-admin"  # management API and CLI only; loopback-only
# vward_auth: the ward's authentication backend (ward/plugin_sources/): an
# MQTT client id belongs to its user (issue 10); built by `vward up`.
PLUGINS = ("rabbitmq_management", "rabbitmq_mqtt", "vward_auth")
AUTH_BACKEND = "vward_auth_backend"
# The Debian package's plugins; ours are added beside them (plugins_dir).
SYSTEM_PLUGINS_DIR = Path("/usr/lib/rabbitmq/lib/rabbitmq_server-3.10.8/plugins")
HOST = "localhost"  # node names are short names on this host


@dataclass(frozen=True, slots=True)
class Node:
    """One RabbitMQ node that `vward up` runs on this host."""

    index: int
    home: Path  # VWARD_HOME
    mqtt_port: int
    amqp_port: int
    admin_port: int
    dist_port: int
    mqtt_tls_port: int

    @property
    def name(self) -> str:
        return f"vward{self.index}@{HOST}"

    @property
    def dir(self) -> Path:
        return self.home / "rabbitmq" / f"node{self.index}"

    @property
    def mnesia_base(self) -> Path:
        return self.dir / "mnesia"

    @property
    def tls_dir(self) -> Path:
        """The node's own copy of the broker's TLS files (ward/tls_files.py)."""
        return self.dir / "tls"

    @property
    def config_file(self) -> Path:
        return self.dir / "rabbitmq.conf"

    @property
    def plugins_file(self) -> Path:
        return self.dir / "enabled_plugins"

    @property
    def env_file(self) -> Path:
        return self.dir / "rabbitmq-env.conf"

    @property
    def pid_file(self) -> Path:
        return self.dir / "rabbitmq.pid"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs" / "rabbitmq" / f"node{self.index}"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    @property
    def startup_log(self) -> Path:
        return self.log_dir / "startup.log"

    @property
    def virgin(self) -> bool:
        """Never started: it joins the cluster on its first boot."""
        return not (self.mnesia_base / self.name).exists()


def boot_phases(
    down: Iterable[Node], *, running: set[str], virgin: set[str],
    peers_at_shutdown: Mapping[str, set[str] | None],
) -> list[list[Node]]:
    """In which order to start the nodes that are `down`, phase by phase
    (each phase together, the next once it is up).  RabbitMQ's rule: a node
    that stopped while others of its cluster ran waits at boot for them (5
    minutes at most), so those whose peers at shutdown all run now, or which
    stopped last, start first; then the rest of the cluster's nodes, together
    (after a crash of all, each waits for the others: only together do they
    start, and then slowly, about 2 minutes, because of the MQTT plugin's
    client-id cluster); then new nodes, which join node 0 on their first
    boot.  `peers_at_shutdown[name]` is None when the node did not say."""
    nodes_ = sorted(down, key=lambda n: n.index)
    new = [n for n in nodes_ if n.name in virgin and n.index != 0]
    known = [n for n in nodes_ if n not in new]

    def alone(n: Node) -> bool:
        if n.name in virgin:  # node 0 of a new cluster
            return True
        peers = peers_at_shutdown.get(n.name)
        return peers is not None and peers - {n.name} <= running

    first = [n for n in known if alone(n)]
    rest = [n for n in known if n not in first]
    return [phase for phase in (first, rest, new) if phase]


def reset_client_id_tracking(down: Iterable[Node], *, running: set[str],
                              virgin: set[str]) -> list[Node]:
    """The nodes whose MQTT client-id tracking state to remove before they
    start.  RabbitMQ 3.10's MQTT plugin tracks client ids in a Raft cluster of
    its own (`mqtt_node`); when the whole cluster starts again, each node
    first asks that cluster's leader for its members, and there is none until
    a majority has started: every node waits 100 s (measured: a 3-node cluster
    took 2 minutes to start again).  The state only maps client ids to live
    connections, and a whole cluster restart has none, so it is dropped and
    formed anew: node 0 alone, the others join it at once."""
    known = [n for n in down if n.name not in virgin]
    return known if not running and len(known) > 1 else []


def nodes_to_seal(wanted: Iterable[Node], *, created: set[str],
                  grown: set[str]) -> list[Node]:
    """The nodes whose RabbitMQ application to restart once after `vward up`
    created quorum queues (a member on every node) or grew them onto new
    nodes.  RabbitMQ 3.10's Raft library records a new member's name in a
    file it saves only minutes later or at a clean stop; a crash before that
    leaves the queue on that node a new, empty member that never elects a
    leader (measured: `ward.unrouted` stuck after a SIGKILL 3 s after `vward
    up`, 4 runs of 4; rabbitmq-server issue 15725 is the same failure).  A
    restart of the application, seconds, saves it."""
    nodes_ = list(wanted)
    if created:
        return nodes_
    return [n for n in nodes_ if n.name in grown]


def stop_order(running_nodes: Iterable[Node]) -> list[list[Node]]:
    """Stop the lowest-numbered node last, alone: it then starts first and
    alone, with no wait for the others (boot_phases)."""
    nodes_ = sorted(running_nodes, key=lambda n: n.index)
    return [phase for phase in (nodes_[1:], nodes_[:1]) if phase]


def rabbitmq_dir(home: Path) -> Path:
    return home / "rabbitmq"


def cookie_home(home: Path) -> Path:
    """The private HOME of every node and of our CLI calls: the shared Erlang
    cookie lives there, so nodes and tools never read the system's."""
    return rabbitmq_dir(home) / "home"


def plugins_dir(home: Path) -> Path:
    """Where `vward up` builds the ward's own RabbitMQ plugin."""
    return rabbitmq_dir(home) / "plugins"


def system_plugins_dir() -> Path:
    """RabbitMQ's own plugins, found from its installed scripts."""
    server = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
    found = server.resolve().parent.parent / "plugins" if server.exists() else None
    return found if found is not None and found.is_dir() else SYSTEM_PLUGINS_DIR


def admin_password_file(home: Path) -> Path:
    return rabbitmq_dir(home) / "admin-password"


def node(settings: Settings, index: int) -> Node:
    step = PORT_STEP * index
    return Node(
        index=index,
        home=settings.home,
        mqtt_port=settings.mqtt_port + step,
        amqp_port=settings.amqp_port + step,
        admin_port=settings.broker_admin_port + step,
        dist_port=settings.broker_dist_port + step,
        mqtt_tls_port=settings.mqtt_tls_port + step,
    )


def nodes(settings: Settings, count: int | None = None) -> tuple[Node, ...]:
    return tuple(node(settings, i) for i in range(count or settings.broker_nodes))


def amqp_urls(settings: Settings) -> list[str]:
    """Where ingest and the outbox find the broker: VWARD_AMQP_URLS, or the
    nodes `vward up` runs (node 0 first)."""
    if settings.amqp_urls.strip():
        return [u.strip() for u in settings.amqp_urls.split(",") if u.strip()]
    return [f"amqp://127.0.0.1:{n.amqp_port}" for n in nodes(settings)]


def node_env(n: Node, settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """The node's environment: `base` (ours) without any RABBITMQ_/ERL_
    variable of the caller's, then every path and port of this node, so that
    nothing of the system's RabbitMQ (/etc/rabbitmq, /var/lib/rabbitmq, its
    cookie, its epmd on 4369) is read or met."""
    env = {k: v for k, v in base.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    env.update(
        HOME=str(cookie_home(n.home)),
        ERL_EPMD_PORT=str(settings.broker_epmd_port),
        ERL_CRASH_DUMP=str(n.log_dir / "erl_crash.dump"),
        RABBITMQ_NODENAME=n.name,
        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_PORT=str(n.amqp_port),
        RABBITMQ_DIST_PORT=str(n.dist_port),
        RABBITMQ_MNESIA_BASE=str(n.mnesia_base),
        RABBITMQ_CONFIG_FILE=str(n.config_file),
        RABBITMQ_ADVANCED_CONFIG_FILE=str(n.dir / "advanced.config"),
        RABBITMQ_CONF_ENV_FILE=str(n.env_file),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(n.plugins_file),
        RABBITMQ_PLUGINS_DIR=f"{system_plugins_dir()}:{plugins_dir(n.home)}",
        RABBITMQ_PLUGINS_EXPAND_DIR=str(n.dir / "plugins-expand"),
        RABBITMQ_PID_FILE=str(n.pid_file),
        RABBITMQ_LOG_BASE=str(n.log_dir),
    )
    return env


def ctl_env(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """Environment of our rabbitmqctl / rabbitmq-queues calls (any node)."""
    env = {k: v for k, v in base.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    env.update(HOME=str(cookie_home(settings.home)),
               ERL_EPMD_PORT=str(settings.broker_epmd_port))
    return env


def enabled_plugins() -> str:
    return f"[{','.join(PLUGINS)}].\n"


def node_config(n: Node, settings: Settings, *, admin_password: str) -> str:
    """rabbitmq.conf of node `n`.  Devices speak MQTT, our services AMQP,
    both on loopback as Mosquitto did; management on loopback only.  The
    first boot of node 0 creates only the admin user, itself loopback-only
    (never guest); `vward up` then creates every other user.  A node booting
    for the first time joins node 0 (classic config peer discovery)."""
    first = node(settings, 0)
    return "\n".join(
        [
            "# written by vward up; regenerated on every start",
            f"listeners.tcp.1 = 127.0.0.1:{n.amqp_port}",
            f"mqtt.listeners.tcp.1 = 127.0.0.1:{n.mqtt_port}",
            *tls_config(n),
            "mqtt.allow_anonymous = false",
            # An MQTT client id is its user's own (vward_auth_backend), then
            # the internal database decides, as it would alone.
            f"auth_backends.1.authn = {AUTH_BACKEND}",
            "auth_backends.1.authz = internal",
            f"mqtt.exchange = {names.MQTT_EXCHANGE}",
            f"mqtt.vhost = {names.VHOST}",
            "management.tcp.ip = 127.0.0.1",
            f"management.tcp.port = {n.admin_port}",
            # Queue totals for `vward status` and the tests, not per-second rates.
            "management.rates_mode = none",
            f"default_user = {ADMIN_USER}",
            f"default_pass = {admin_password}",
            "default_user_tags.administrator = true",
            f"loopback_users.{ADMIN_USER} = true",
            "loopback_users.guest = true",
            "cluster_formation.peer_discovery_backend = classic_config",
            f"cluster_formation.classic_config.nodes.1 = {first.name}",
            f"max_message_size = {max(settings.max_payload_bytes * 4, 1024 * 1024)}",
            "log.console = false",
            "log.file.level = info",
            "",
        ]
    )


def tls_config(n: Node) -> list[str]:
    """MQTT over TLS on every interface (home devices come over the
    internet), TLS 1.2 and 1.3 only, with the node's copy of the server
    certificate; devices are known by their passwords, not certificates."""
    d = n.tls_dir
    return [
        f"mqtt.listeners.ssl.default = {n.mqtt_tls_port}",
        f"ssl_options.cacertfile = {d / tls.CA_NAME}",
        f"ssl_options.certfile = {d / tls.CERT_NAME}",
        f"ssl_options.keyfile = {d / tls.KEY_NAME}",
        "ssl_options.verify = verify_none",
        "ssl_options.fail_if_no_peer_cert = false",
        "ssl_options.versions.1 = tlsv1.3",
        "ssl_options.versions.2 = tlsv1.2",
        "ssl_options.honor_cipher_order = true",
    ]


# ---------------------------------------------------------------- topology


def topology() -> dict[str, Any]:
    """Exchanges, quorum queues and bindings, as a definitions document: the
    import is idempotent, and a quorum queue declared once the cluster has
    formed has a member on every node."""
    vhost = names.VHOST

    def exchange(name: str, kind: str, arguments: dict[str, str]) -> dict[str, Any]:
        return {"name": name, "vhost": vhost, "type": kind, "durable": True,
                "auto_delete": False, "internal": False, "arguments": arguments}

    def binding(source: str, queue: str, key: str) -> dict[str, Any]:
        return {"source": source, "vhost": vhost, "destination": queue,
                "destination_type": "queue", "routing_key": key, "arguments": {}}

    return {
        "exchanges": [
            exchange(names.UNROUTED_EXCHANGE, "fanout", {}),
            exchange(names.MQTT_EXCHANGE, "topic",
                     {"alternate-exchange": names.UNROUTED_EXCHANGE}),
        ],
        "queues": [
            {"name": q, "vhost": vhost, "durable": True, "auto_delete": False,
             "arguments": {"x-queue-type": "quorum"}}
            for q in names.QUEUES
        ],
        "bindings": [
            *(binding(names.MQTT_EXCHANGE, q, key) for q, key in names.BINDINGS.items()),
            binding(names.UNROUTED_EXCHANGE, names.UNROUTED_QUEUE, ""),
        ],
    }
