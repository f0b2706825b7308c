"""Start and stop the ward's RabbitMQ nodes on this host, each with its own
name, ports and directories under `settings.home`, one private Erlang cookie
and an epmd of the ward's own (docs/operating.md, "Broker").  Processes
only; ward/rabbitmq_files.py writes the nodes' files,
ward/rabbitmq_config.py decides what they say, and ward/rabbitmq_admin.py
talks to the running cluster."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ward import broker_names as names
from ward import processes, rabbitmq_admin, rabbitmq_files
from ward import rabbitmq_config as cfg
from ward.errors import ServiceError
from ward.settings import Settings

Progress = Callable[[str], None]

_BIN = Path("/usr/lib/rabbitmq/bin")  # Debian's; /usr/sbin's wrappers drop our environment
_START_TIMEOUT = 180.0  # [s] a node takes 10-20 s here; more on a loaded machine
_STOP_TIMEOUT = 60.0  # [s] a clean stop, then SIGKILL
_NOTE_EVERY = 5.0  # [s] between progress lines while waiting


def _bin(name: str) -> str:
    path = _BIN / name
    if not path.exists():
        raise ServiceError(
            f"RabbitMQ is not installed ({path} is missing): run `make demo` or"
            " ward/scripts/bootstrap.sh, or set VWARD_BROKER=mqtt"
        )
    return str(path)


# ---------------------------------------------------------------- state


def known_nodes(settings: Settings) -> list[cfg.Node]:
    """Every node that has a directory under the ward's home (any count)."""
    base = cfg.rabbitmq_dir(settings.home)
    found = sorted(
        int(p.name[4:]) for p in base.glob("node*") if p.is_dir() and p.name[4:].isdigit()
    )
    return [cfg.node(settings, i) for i in found]


def node_pid(n: cfg.Node) -> int | None:
    """The node's Erlang VM, if it runs (not a zombie, and started for this
    node's directory: a reused pid is somebody else's)."""
    try:
        pid = int(n.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if not processes.running(pid):
        return None
    env = processes.environ(pid)
    if env is not None and env.get("RABBITMQ_MNESIA_BASE") != str(n.mnesia_base):
        return None
    return pid


def running(settings: Settings) -> list[cfg.Node]:
    return [n for n in known_nodes(settings) if node_pid(n)]


# ---------------------------------------------------------------- start


def start(settings: Settings, count: int | None = None, *,
          progress: Progress | None = None) -> list[str]:
    """Run `count` nodes (VWARD_BROKER_NODES) as one cluster, reusing those
    already running; wait until every node is up and in the cluster, then
    declare the topology and give quorum queues a member on each node.  A
    node that was ever part of the cluster runs too, whatever `count` says:
    the others would wait for it at boot.  Returns what it did, for the
    operator."""
    say = progress or (lambda line: None)
    requested = count or settings.broker_nodes
    members = [n.index for n in known_nodes(settings) if not n.virgin]
    wanted = cfg.nodes(settings, max(requested, max(members, default=-1) + 1))
    _bin("rabbitmq-server")
    tls_changed = rabbitmq_files.prepare(settings, wanted)
    up = _reuse_running(settings, wanted, tls_changed, say)
    down = [n for n in wanted if n not in up]
    seconds = _boot(settings, up, down, say)
    grown = _form_cluster(settings, wanted, say)
    done = [f"RabbitMQ {n.name} already running" for n in up]
    if down:
        done.append(f"started RabbitMQ {', '.join(n.name for n in down)} in {seconds:.0f} s")
    done.append(f"RabbitMQ cluster of {len(wanted)} node(s): MQTT on {settings.mqtt_host}:"
                f"{settings.mqtt_port}, MQTT over TLS on port {settings.mqtt_tls_port} of every"
                f" interface, AMQP on 127.0.0.1:{settings.amqp_port}")
    done += [f"quorum queues given a member on {name}" for name in grown]
    if len(wanted) > requested:
        done.append(f"note: this ward's cluster has {len(wanted)} nodes, and all run"
                    f" (VWARD_BROKER_NODES or --nodes said {requested}); give the ward's"
                    f" processes VWARD_BROKER_NODES={len(wanted)} so that they know every node")
    return done


def _reuse_running(settings: Settings, wanted: tuple[cfg.Node, ...], tls_changed: set[str],
                   say: Progress) -> list[cfg.Node]:
    """The wanted nodes already running and kept, each serving its renewed
    certificate; none if they predate the ward's client-id check."""
    up = [n for n in wanted if node_pid(n)]
    if up and not all(_checks_client_ids(settings, n) for n in up):
        # A cluster started before issue 10 checks no client id: its nodes
        # read the new configuration and plugin only at boot.  Once.
        say("restarting RabbitMQ to load the ward's client-id check (vward_auth_backend)")
        stop(settings)
        return []
    for n in up:
        if n.name in tls_changed:  # a renewed certificate: new connections get it
            ctl(settings, "rabbitmqctl", "eval", "ssl:clear_pem_cache().", node_index=n.index)
    return up


def _boot(settings: Settings, up: list[cfg.Node], down: list[cfg.Node],
          say: Progress) -> float:
    """Start the nodes that are `down`, phase by phase (cfg.boot_phases);
    returns the seconds they took."""
    for n in down:
        _refuse_taken_ports(n)
    processes.raise_open_files_limit()  # inherited by the nodes: one descriptor per device
    running_, virgin = {n.name for n in up}, {n.name for n in down if n.virgin}
    phases = cfg.boot_phases(down, running=running_, virgin=virgin,
                             peers_at_shutdown={n.name: _peers_at_shutdown(n) for n in down})
    for n in cfg.reset_client_id_tracking(down, running=running_, virgin=virgin):
        shutil.rmtree(n.mnesia_base / n.name / "coordination", ignore_errors=True)
    started = time.monotonic()
    for batch in phases:
        for n in batch:
            say(f"starting RabbitMQ node {n.name} (MQTT {n.mqtt_port}, MQTT over TLS"
                f" {n.mqtt_tls_port}, AMQP {n.amqp_port}, management {n.admin_port})")
            _spawn(settings, n)
        _wait_started(batch, say)
    return time.monotonic() - started


def _form_cluster(settings: Settings, wanted: tuple[cfg.Node, ...], say: Progress) -> list[str]:
    """Wait for every node to join, declare the topology, give each quorum
    queue a member on every node and make new members durable; returns the
    nodes the queues grew onto."""
    with rabbitmq_admin.client(settings) as api:
        _wait_clustered(api, wanted, say)
        existed = set(rabbitmq_admin.queues(api))
        rabbitmq_admin.declare_topology(api)
        grown = _grow_queues(settings, api, wanted)
    sealed = cfg.nodes_to_seal(wanted, created=set(names.QUEUES) - existed, grown=set(grown))
    if sealed:
        say(f"making the new quorum queue members durable on {', '.join(n.name for n in sealed)}")
        _seal(settings, sealed)
        with rabbitmq_admin.client(settings) as api:
            _wait_clustered(api, wanted, say)
    return grown


def _checks_client_ids(settings: Settings, n: cfg.Node) -> bool:
    """Whether the running node authenticates through the ward's backend."""
    try:
        said = ctl(settings, "rabbitmqctl", "eval", "application:get_env(rabbit, auth_backends).",
                   node_index=n.index)
    except ServiceError:
        return True  # cannot tell (a node going down): leave it be
    return cfg.AUTH_BACKEND in said


def _peers_at_shutdown(n: cfg.Node) -> set[str] | None:
    """The nodes of its cluster that ran when the node last stopped cleanly,
    as it recorded them (an Erlang list of node names), or None."""
    try:
        text = (n.mnesia_base / n.name / "nodes_running_at_shutdown").read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return set(re.findall(r"[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+", text))


def _refuse_taken_ports(n: cfg.Node) -> None:
    for port, setting in ((n.mqtt_port, "VWARD_MQTT_PORT"), (n.amqp_port, "VWARD_AMQP_PORT"),
                          (n.admin_port, "VWARD_BROKER_ADMIN_PORT"),
                          (n.dist_port, "VWARD_BROKER_DIST_PORT"),
                          (n.mqtt_tls_port, "VWARD_MQTT_TLS_PORT")):
        if _still_open(port):
            raise ServiceError(
                f"another program already listens on port {port}, which RabbitMQ node {n.name}"
                f" needs; set {setting} (node i uses it + {cfg.PORT_STEP}·i) to a free port"
            )


def _still_open(port: int, grace: float = 5.0) -> bool:
    """Whether something listens on `port` and goes on doing so for `grace`
    seconds: a node killed a moment ago may not have let its ports go yet."""
    deadline = time.monotonic() + grace
    while processes.port_open("127.0.0.1", port, 0.2):
        if time.monotonic() > deadline:
            return True
        time.sleep(0.1)
    return False


def _spawn(settings: Settings, n: cfg.Node) -> None:
    n.pid_file.unlink(missing_ok=True)
    env = cfg.node_env(n, settings, os.environ)
    with open(n.startup_log, "ab") as out:
        # `setsid --fork` leaves the node to init, as `mosquitto -d` does: no
        # child of ours to reap, whatever process called `vward up`.
        proc = subprocess.run(
            ["setsid", "--fork", _bin("rabbitmq-server")], env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=n.dir, check=False,
            **rabbitmq_files.as_owner(),
        )
    if proc.returncode != 0:
        raise ServiceError(f"could not start RabbitMQ node {n.name}; see {n.startup_log}")


def _wait_started(batch: list[cfg.Node], say: Progress) -> None:
    started = time.monotonic()
    note = started + _NOTE_EVERY
    pending = list(batch)
    while pending:
        for n in list(pending):
            pid = node_pid(n)
            if pid and all(processes.port_open("127.0.0.1", p, 0.2)
                           for p in (n.amqp_port, n.mqtt_port, n.admin_port, n.mqtt_tls_port)):
                pending.remove(n)
                say(f"RabbitMQ node {n.name} up after {time.monotonic() - started:.1f} s")
            elif not pid and (n.pid_file.exists() or time.monotonic() - started > 20):
                raise ServiceError(f"RabbitMQ node {n.name} did not start:\n{_tail(n)}")
        now = time.monotonic()
        if now > started + _START_TIMEOUT:
            raise ServiceError(
                f"RabbitMQ node(s) {', '.join(n.name for n in pending)} not up after"
                f" {_START_TIMEOUT:.0f} s:\n{_tail(pending[0])}")
        if pending and now >= note:
            say(f"  waiting for {', '.join(n.name for n in pending)}"
                f" ({now - started:.0f} s)")
            note = now + _NOTE_EVERY
        time.sleep(0.2)


def _wait_clustered(api: Any, wanted: tuple[cfg.Node, ...], say: Progress) -> None:
    expected = {n.name for n in wanted}
    deadline = time.monotonic() + _START_TIMEOUT
    told = False
    while True:
        try:
            members = rabbitmq_admin.running_nodes(api)
        except ServiceError:  # its management listener not open yet
            members = set()
        if expected <= members:
            return
        if not told:
            say(f"waiting for the cluster of {len(expected)} nodes to form")
            told = True
        if time.monotonic() > deadline:
            raise ServiceError(
                f"the RabbitMQ cluster did not form: node 0 sees {sorted(members)}, expected"
                f" {sorted(expected)}; see {wanted[0].log_dir.parent}")
        time.sleep(0.5)


def _grow_queues(settings: Settings, api: Any, wanted: tuple[cfg.Node, ...]) -> list[str]:
    """Quorum queues declared before a node joined have no member on it: add
    one (`rabbitmq-queues grow`), so every queue survives a node's loss."""
    listed = rabbitmq_admin.queues(api)
    missing = sorted({
        n.name for n in wanted for q in names.QUEUES
        if q in listed and n.name not in listed[q].get("members", [n.name])
    })
    for name in missing:
        ctl(settings, "rabbitmq-queues", "grow", name, "all", "--queue-pattern", r"^ward\.")
    return missing


def _seal(settings: Settings, nodes_: list[cfg.Node]) -> None:
    """Stop and start the RabbitMQ application of each node (not its VM), one
    node after the other: its Raft systems close their files, so that the
    quorum queue members just created survive a crash (cfg.nodes_to_seal).
    One at a time, because the MQTT plugin of a cluster whose every node
    restarts it at once waits 100 s (cfg.reset_client_id_tracking)."""
    for n in nodes_:
        ctl(settings, "rabbitmqctl", "stop_app", node_index=n.index)
        ctl(settings, "rabbitmqctl", "start_app", node_index=n.index)


def ctl(settings: Settings, tool: str, *args: str, node_index: int = 0) -> str:
    """Run a RabbitMQ CLI tool (rabbitmqctl, rabbitmq-queues ...) against one
    of our nodes, with our cookie and epmd; returns its output."""
    n = cfg.node(settings, node_index)
    proc = subprocess.run(
        [_bin(tool), "-n", n.name, *args], env=cfg.ctl_env(settings, os.environ),
        capture_output=True, text=True, check=False, cwd=cfg.cookie_home(settings.home),
        **rabbitmq_files.as_owner(),
    )
    if proc.returncode != 0:
        raise ServiceError(f"{tool} {' '.join(args)} failed ({proc.returncode}):"
                           f" {(proc.stderr or proc.stdout).strip()[-800:]}")
    return proc.stdout


def _tail(n: cfg.Node, lines: int = 15) -> str:
    parts = []
    for path in (n.startup_log, n.log_file):
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path}\n" + "\n".join(text))
    return "\n".join(parts) or f"(no log in {n.log_dir})"


# ---------------------------------------------------------------- stop


def stop(settings: Settings, *, kill: bool = False) -> list[str]:
    """Stop every node of ours (a clean stop on SIGTERM, SIGKILL after
    _STOP_TIMEOUT; at once with `kill`, for nodes whose data goes next), then
    our epmd.  Returns what it did."""
    live = [n for n in known_nodes(settings) if node_pid(n)]
    pids: dict[str, int] = {}
    for phase in [live] if kill else cfg.stop_order(live):
        batch = {n.name: pid for n in phase if (pid := node_pid(n))}
        for pid in batch.values():
            os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT
        while any(processes.running(p) for p in batch.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in batch.values():
            if processes.running(pid):
                os.kill(pid, signal.SIGKILL)
        pids.update(batch)
    done = [f"stopped RabbitMQ {', '.join(sorted(pids))}"] if pids else []
    if _stop_epmd(settings):
        done.append(f"stopped epmd on port {settings.broker_epmd_port}")
    return done


def _stop_epmd(settings: Settings) -> bool:
    """Our epmd, once no node of ours is registered with it.  Another node
    still registered (not ours: same port by mistake) keeps it running."""
    if not processes.port_open("127.0.0.1", settings.broker_epmd_port):
        return False
    env = cfg.ctl_env(settings, os.environ)
    port = str(settings.broker_epmd_port)
    names_ = subprocess.run(["epmd", "-port", port, "-names"], env=env, capture_output=True,
                            text=True, check=False).stdout
    if "name " in names_:
        deadline = time.monotonic() + 5  # a stopped node unregisters as it exits
        while "name " in names_ and time.monotonic() < deadline:
            time.sleep(0.1)
            names_ = subprocess.run(["epmd", "-port", port, "-names"], env=env,
                                    capture_output=True, text=True, check=False).stdout
        if "name " in names_:
            return False
    subprocess.run(["epmd", "-port", port, "-kill"], env=env, capture_output=True, check=False)
    deadline = time.monotonic() + 5
    while processes.port_open("127.0.0.1", settings.broker_epmd_port, 0.2):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
