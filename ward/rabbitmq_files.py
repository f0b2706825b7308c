"""The files every RabbitMQ node of the ward reads, written before it starts:
the shared Erlang cookie, the admin's password, each node's configuration,
enabled plugins and private copy of the TLS files, all owned by `rabbitmq`
when we are root.  ward/rabbitmq_config.py decides what they say;
ward/rabbitmq.py runs the nodes."""

from __future__ import annotations

import os
import pwd
import secrets
from pathlib import Path
from typing import Any

from ward import broker_plugins, processes, tls_files
from ward import rabbitmq_config as cfg
from ward.settings import Settings

_USER = "rabbitmq"  # the Debian package's; we run as it when we are root


def _owner() -> str | None:
    """RabbitMQ runs as `rabbitmq` when we are root (like PostgreSQL as
    `postgres`), else as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(_USER)
    except KeyError:
        return None  # no such user: run as root, which RabbitMQ allows
    return _USER


def as_owner() -> dict[str, Any]:
    """subprocess.run's arguments that run a RabbitMQ tool as the nodes' owner."""
    owner = _owner()
    if owner is None:
        return {}
    entry = pwd.getpwnam(owner)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def prepare(settings: Settings, wanted: tuple[cfg.Node, ...]) -> set[str]:
    """Write every node's files; returns the nodes whose TLS files changed
    (a running node must then load them again)."""
    base = cfg.rabbitmq_dir(settings.home)
    home = cfg.cookie_home(settings.home)
    home.mkdir(parents=True, exist_ok=True)
    broker_plugins.rabbitmq_plugin(cfg.plugins_dir(settings.home))
    cookie = home / ".erlang.cookie"
    if not cookie.exists():
        _write_private(cookie, secrets.token_hex(20), mode=0o400)
    password_file = cfg.admin_password_file(settings.home)
    if not password_file.exists():
        _write_private(password_file, secrets.token_urlsafe(24), mode=0o600)
    admin_password = password_file.read_text().strip()
    for n in wanted:
        n.mnesia_base.mkdir(parents=True, exist_ok=True)
        n.log_dir.mkdir(parents=True, exist_ok=True)
        n.env_file.write_text("# empty: /etc/rabbitmq/rabbitmq-env.conf is not ours\n")
        n.plugins_file.write_text(cfg.enabled_plugins())
        _write_private(n.config_file, cfg.node_config(n, settings, admin_password=admin_password),
                       mode=0o600)
    owner = _owner()
    tls_changed = {n.name for n in wanted if tls_files.install(settings, n.tls_dir, owner)}
    if owner:
        processes.ensure_traversable(settings.home)
        processes.chown_tree(home, owner)
        for n in wanted:
            processes.chown_tree(n.dir, owner)
            processes.chown_tree(n.log_dir, owner)
        os.chmod(base, 0o755)
        os.chmod(password_file, 0o600)  # read by vward, not by the nodes
        os.chown(password_file, os.geteuid(), os.getegid())
    return tls_changed


def _write_private(path: Path, text: str, *, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    owner = _owner()
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(tmp, entry.pw_uid, entry.pw_gid)
    os.chmod(tmp, mode)
    tmp.replace(path)
