"""Screenshots of the dashboard in headless Chromium (the README's picture
of the ward view), and the browser helpers the browser tests share.

    python -m dashboard.screenshot [URL] [--out docs/ward-view.png] [--sample]

Against a running app at URL (default: the dashboard of VWARD_* settings,
served here on its own in demo mode; ``--sample`` first adds the sample ward
of dashboard/sample.py and runs an alerts engine, ``vward alerts``, while the
picture is taken: the ward as it looks with alerting running, its alerts
reconciled by the engine itself)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from ward.scratch import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chrome(width: int = 1920, height: int = 1080):
    """A headless Chromium driven by selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--force-device-scale-factor=1",
                "--hide-scrollbars", "--lang=en-GB"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # --window-size counts the window's frame: fix the page's own size.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return driver



@contextmanager
def serving(wsgi_app, port: int | None = None):
    """Serve a WSGI app on 127.0.0.1 in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port or free_port(), wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def wait_for_rows(driver, selector: str = "#ward-grid .ag-row", *, at_least: int = 1,
                  timeout: float = 30) -> list:
    deadline = time.monotonic() + timeout
    while True:
        rows = driver.find_elements("css selector", selector)
        if len(rows) >= at_least:
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {at_least} rows of {selector} after {timeout} s")
        time.sleep(0.2)


def ward_screenshot(driver, url: str, out: Path, *, rows: int = 10) -> Path:
    driver.get(url)
    wait_for_rows(driver, at_least=rows)
    wait_for_rows(driver, "#ward-alerts .ag-row")
    time.sleep(1.0)  # let the cell renderers and fonts settle
    out.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.screenshot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", help="a running dashboard (else served here)")
    parser.add_argument("--out", type=Path, default=Path("docs/ward-view.png"))
    parser.add_argument("--sample", action="store_true", help="add the sample ward first")
    parser.add_argument("--ward", default="ward-sample")
    args = parser.parse_args(argv)
    if args.url:
        return _shoot(args.url, args)
    from dashboard.__main__ import standalone
    from ward import db
    from ward.settings import Settings

    settings = Settings()
    if args.sample:
        from dashboard import sample

        with db.connect(settings, autocommit=True) as conn:
            sample.build_ward(conn, now=datetime.now(UTC), ward_id=args.ward)
    with alerting(settings) if args.sample else nullcontext(), \
            serving(standalone(settings).server) as url:
        return _shoot(url, args)


@contextmanager
def alerting(settings, timeout: float = 60):
    """A real alerts engine (``vward alerts``, this environment's settings) until the
    block ends, started and waited for until ward/health.py judges alerting running."""
    from ward import db, health, heartbeats

    engine = subprocess.Popen([sys.executable, "-m", "ward.cli", "alerts"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with db.connect(settings, autocommit=True) as conn:
                now, rows = heartbeats.read(conn)
            if health.judge_alerting(rows, now).running:
                break
            if engine.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the alerts engine did not start: run `vward alerts` to see"
                                   " why")
            time.sleep(0.5)
        time.sleep(3)  # a tick or two: the engine's own alerts on the sample
        yield engine
    finally:
        engine.terminate()
        engine.wait(30)


def _shoot(url: str, args) -> int:
    driver = chrome()
    try:
        out = ward_screenshot(driver, f"{url.rstrip('/')}/?ward={args.ward}", args.out)
    finally:
        driver.quit()
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
