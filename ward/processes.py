"""Processes and files of the services the ward runs itself, shared by
ward/postgres.py, ward/mosquitto.py and ward/rabbitmq.py."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import threading
from pathlib import Path

from ward.errors import ServiceError


def stop_event(stop: threading.Event | None = None) -> threading.Event:
    """What stops a ward process's loop: ``stop`` (a test's), or a new event.  In the
    main thread SIGTERM and SIGINT set it: SIGINT too, or it stays ignored where a
    shell started the process in the background (make demo), and Ctrl-C left it
    running (finding 11)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    return stop


def running(pid: int) -> bool:
    """Whether `pid` is a live process of ours.  A zombie (dead, not yet reaped
    by its parent) is not: `os.kill(pid, 0)` succeeds on one, which once made
    `vward up` take a crashed broker for a running one (issue 9).  A process
    we may not signal is another user's (the pid was reused): not ours."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc to ask: the signal's answer stands
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def environ(pid: int) -> dict[str, str] | None:
    """The environment a process started with, or None if it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def chown_tree(path: Path, user: str) -> None:
    """Give `path` and everything under it to `user` (when we are root)."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def ensure_traversable(path: Path) -> None:
    """The service users (postgres, mosquitto, rabbitmq) must reach their
    directories under ours."""
    if os.geteuid() != 0:
        return
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


def run(cmd: list[str], what: str, *, log: Path | None = None) -> None:
    """Run a service's program; a ServiceError with its stderr and the tail of
    its `log` when it fails, so the operator sees why without looking."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = ""
        if log and log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ServiceError(
            f"{what} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}".strip()
        )


def raise_open_files_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit, for the
    brokers it starts (they inherit it: one descriptor per connected device, and
    a 1,024 default stops them near 1,000 devices) and the simulator's devices;
    returns the soft limit."""
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
