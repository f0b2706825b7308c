"""`vward user add|list` and `vward web`, run as an operator runs them."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest
from conftest import ROOT, service_env, unique, wait_for

pytestmark = [pytest.mark.db]


def _vward(settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ward.cli", *args], cwd=ROOT, timeout=60,
                          env=service_env(settings, **env), capture_output=True, text=True)


def test_user_add_prints_a_token_last_and_a_generated_password(services_up):
    name = unique("nurse")
    r = _vward(services_up, "user", "add", name, "--role", "clinician")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-1].startswith("vwu_")
    password = next(line.split(": ", 1)[1] for line in lines if line.startswith("password: "))
    assert len(password) >= 12
    again = _vward(services_up, "user", "add", name, "--role", "clinician")
    assert again.returncode == 2 and "exists already" in again.stderr
    idem = _vward(services_up, "user", "add", name, "--role", "clinician", "--if-missing")
    assert idem.returncode == 0 and "exists already" in idem.stdout
    given = _vward(services_up, "user", "add", unique("boss"), "--role", "admin",
                   "--password", "a-long-password")
    assert given.returncode == 0 and "password:" not in given.stdout
    short = _vward(services_up, "user", "add", unique("x"), "--role", "admin", "--password", "s")
    assert short.returncode == 2 and "at least 8" in short.stderr
    listed = _vward(services_up, "user", "list")
    assert name in listed.stdout and "clinician" in listed.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_web_serves_and_in_demo_mode_prints_a_demo_login(services_up, spawn, conn):
    # A first start: no demo user yet (another test's `vward web` may have made one).
    conn.execute("DELETE FROM users WHERE name = 'demo'")
    port = _free_port()
    p = spawn("web", VWARD_WEB_PORT=str(port), VWARD_DEMO_PASSWORD="demo-pass-123")
    wait_for(lambda: "Uvicorn running" in p.output() or not p.running, timeout=30,
             what="vward web listening")
    out = p.output()
    assert f"web: http://127.0.0.1:{port}/" in out
    assert "demo login: demo / demo-pass-123" in out
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/healthz").json() == {"ok": True}
    r = httpx.post(f"{base}/login", data={"name": "demo", "password": "demo-pass-123"})
    assert r.status_code == 303
    page = httpx.get(f"{base}/api/v1/wards", cookies=r.cookies)
    assert page.status_code == 200 and "server-timing" in page.headers
