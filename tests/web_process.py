"""`vward web` started for a browser test: on a free loopback port, waited for
until its /healthz answers.  Not a fixture module: tests call it with their
``spawn`` (tests/conftest.py) and whatever environment their database needs."""

from __future__ import annotations

import urllib.request

from conftest import wait_for

from dashboard.screenshot import free_port


def web_started(spawn, **env: str) -> str:
    """A real `vward web` process serving; its base URL.  Fails with the
    process's output if it stops instead."""
    port = free_port()
    web = spawn("web", VWARD_WEB_PORT=str(port), VWARD_WEB_HOST="127.0.0.1", **env)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert web.running, web.output()[-3000:]
        try:
            return urllib.request.urlopen(f"{url}/healthz", timeout=1).status == 200
        except OSError:
            return False

    wait_for(healthy, timeout=30, what="vward web")
    return url
