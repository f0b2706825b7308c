"""Build the ward's two small broker plugins from their sources in
ward/plugin_sources/ (issue 10): RabbitMQ's authentication backend (Erlang,
`erlc`) and Mosquitto's client-id and subscription check (C, `cc`).  Each
binds an MQTT client id to its user before the broker lets the client take
anyone's session, which neither broker's own password check does.

Built under VWARD_HOME by `vward up`, again only when the source changed."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ward.errors import ServiceError

SOURCES = Path(__file__).resolve().parent / "plugin_sources"
RABBITMQ_SOURCE = SOURCES / "vward_auth_backend.erl"
MOSQUITTO_SOURCE = SOURCES / "vward_mosquitto_auth.c"

# RabbitMQ plugin: an OTP application directory with its .app and beams.
RABBITMQ_APP = "vward_auth"
RABBITMQ_MODULE = "vward_auth_backend"
_VERSION = "1.0.0"
_APP_FILE = f"""{{application, {RABBITMQ_APP}, [
  {{description, "The virtual ward's MQTT client id check (ward/plugin_sources/)"}},
  {{vsn, "{_VERSION}"}},
  {{modules, [{RABBITMQ_MODULE}]}},
  {{registered, []}},
  {{applications, [kernel, stdlib, rabbit_common, rabbit]}},
  {{env, []}},
  {{broker_version_requirements, []}}
]}}.
"""


def rabbitmq_plugin(plugins_dir: Path) -> Path:
    """The plugin's directory under `plugins_dir` (a RABBITMQ_PLUGINS_DIR
    entry), built if its source changed; readable by the broker's user."""
    app = plugins_dir / f"{RABBITMQ_APP}-{_VERSION}"
    ebin = app / "ebin"
    stamp = ebin / ".source-sha256"
    digest = _digest(RABBITMQ_SOURCE)
    if _read(stamp) != digest:
        ebin.mkdir(parents=True, exist_ok=True)
        _compile(["erlc", "-o", str(ebin), str(RABBITMQ_SOURCE)], "erlc",
                 "erlang-base (RabbitMQ's own Erlang brings it)")
        (ebin / f"{RABBITMQ_APP}.app").write_text(_APP_FILE)
        stamp.write_text(digest)
    _readable(plugins_dir)
    return app


def mosquitto_plugin(folder: Path) -> Path:
    """The Mosquitto plugin (a shared object) in `folder`, built if its
    source changed."""
    target = folder / "vward_auth.so"
    stamp = folder / "vward_auth.so.source-sha256"
    digest = _digest(MOSQUITTO_SOURCE)
    if not target.exists() or _read(stamp) != digest:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".so.tmp")
        _compile([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", "-o", str(tmp),
                  str(MOSQUITTO_SOURCE)], "cc", "a C compiler (gcc)")
        tmp.replace(target)
        stamp.write_text(digest)
    os.chmod(target, 0o755)
    return target


def _compile(cmd: list[str], tool: str, package: str) -> None:
    if shutil.which(cmd[0]) is None:
        raise ServiceError(
            f"`vward up` builds the broker's client-id check with {tool}, which is not"
            f" installed: install {package}")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServiceError(f"{tool} could not build {cmd[-1]}:"
                           f" {(done.stderr or done.stdout).strip()[-800:]}")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _readable(top: Path) -> None:
    """The broker runs as its own user when we are root: it reads the plugin."""
    for root, _dirs, files in os.walk(top):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
