"""The ward dashboard (Plotly Dash): the ward view, alerts, the patient page
and the ward's own figures.  ``dashboard.app.create_dash(settings)`` builds
the app that api/app.py mounts at "/"; ``python -m dashboard`` serves it on
its own for development (demo mode only)."""
