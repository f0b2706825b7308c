"""Generated secrets of the services `vward up` runs, one file each under
`VWARD_HOME/secrets/` (directory 0700, files 0600, owner only).

A secret is made on first use and kept: every process of the ward reads the
same file, another user on the host reads none of them, and no password of
the ward is fixed in code or documentation (issue 10)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def secrets_dir(home: Path) -> Path:
    return home / "secrets"


def secret_path(home: Path, name: str) -> Path:
    if not name or set(name) - _NAME_CHARS:
        raise ValueError(f"secret name {name!r}: lower-case letters, digits and '-' only")
    return secrets_dir(home) / name


def secret(home: Path, name: str, *, nbytes: int = 24) -> str:
    """The secret `name`, made (random, URL-safe) and saved 0600 if absent.

    Created with O_EXCL beside its final name and renamed into place, so two
    processes starting at once agree on one value and nobody reads half a file."""
    path = secret_path(home, name)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    tmp = folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(nbytes) + "\n")
        with contextlib.suppress(FileExistsError):  # another process got there first
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def existing_secret(home: Path, name: str) -> str | None:
    """The secret if it was made, else None (never makes one)."""
    try:
        return _read(secret_path(home, name))
    except FileNotFoundError:
        return None


def _read(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise FileNotFoundError(path)
    return value
