"""``python -m dashboard``: the dashboard on its own, for development.

Without the API in front there is no sign-in, so every request is made as a
fixed development user; that is allowed in demo mode only."""

from __future__ import annotations

import argparse
import sys

import flask

from dashboard.app import create_dash
from dashboard.deps import ROLE_HEADER, USER_HEADER
from ward.settings import Settings

DEV_USER = "dev-clinician"


class DevUser:
    """WSGI middleware: every request arrives signed in as ``name``."""

    def __init__(self, wsgi_app, name: str = DEV_USER, role: str = "clinician") -> None:
        self.wsgi_app, self.name, self.role = wsgi_app, name, role

    def __call__(self, environ, start_response):
        environ["HTTP_" + USER_HEADER.upper().replace("-", "_")] = self.name
        environ["HTTP_" + ROLE_HEADER.upper().replace("-", "_")] = self.role
        return self.wsgi_app(environ, start_response)


def standalone(settings: Settings, user: str = DEV_USER):
    """The Dash app with a development user; refused outside demo mode."""
    if not settings.demo:
        raise SystemExit("the dashboard on its own signs everyone in as a development user:"
                         " only with VWARD_DEMO=true (use `vward web` otherwise)")
    app = create_dash(settings)
    app.server.wsgi_app = DevUser(app.server.wsgi_app, user)
    app.server.add_url_rule("/logout", "logout", lambda: flask.redirect("/"),
                            methods=["POST"])
    return app


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__)
    parser.add_argument("--host", default=settings.web_host)
    parser.add_argument("--port", type=int, default=settings.web_port)
    parser.add_argument("--user", default=DEV_USER)
    args = parser.parse_args(argv)
    standalone(settings, args.user).run(host=args.host, port=args.port, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
