"""Build the Dash app: ``create_dash(settings)``.

Mount contract (api/app.py): the returned app is a Flask-based Dash app
whose WSGI callable is ``dash_app.server``, serving at "/" (pages "/",
"/patient/<id>", "/outcomes" and Dash's own "/_dash-*" routes and
"/assets/*").  The API authenticates every request before it reaches the
dashboard, strips any client-sent ``X-Vward-User``/``X-Vward-Role`` and
sets them from the session; the dashboard trusts them and refuses actions
without a user.  The database pool opens at the first callback, not here;
``close_dash(app)`` closes it at shutdown."""

from __future__ import annotations

from pathlib import Path

import dash

from dashboard import deps, layout
from dashboard.pages import inbox, outcomes, patient, rota, ward
from ward.settings import Settings

_HERE = Path(__file__).resolve().parent


def create_dash(settings: Settings) -> dash.Dash:
    app = dash.Dash(
        "dashboard", use_pages=True, pages_folder="",
        assets_folder=str(_HERE / "assets"), url_base_pathname="/",
        suppress_callback_exceptions=True, title="Virtual ward", update_title=None,
        serve_locally=True, on_error=layout.callback_failed)
    for page in (ward, patient, outcomes, rota, inbox):
        page.PAGE.register(app, page.layout)
    app.server.config["SECRET_KEY"] = settings.secret_key
    deps.install(app.server, settings)
    app.layout = layout.shell
    layout.register_shell_callbacks(app)
    return app


def close_dash(app: dash.Dash) -> None:
    """Close the app's database pool (at the host's shutdown)."""
    deps.Database.close(app.server.extensions["vward_dashboard"])

