"""The few HTML pages the web app serves itself (login, and a placeholder
when the dashboard is not installed); pure, self-contained (no assets, so
that they load before anyone is signed in)."""

from __future__ import annotations

from html import escape

_STYLE = """
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:#f3f5f7;color:#1c2733;display:flex;min-height:100vh;align-items:center;
justify-content:center}
main{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:2rem 2.25rem;
width:min(22rem,90vw);box-shadow:0 1px 3px rgba(0,0,0,.06)}
h1{font-size:1.25rem;margin:0 0 .25rem}p.sub{margin:0 0 1.5rem;color:#5b6b7b;font-size:.9rem}
label{display:block;font-size:.85rem;font-weight:600;margin:0 0 .25rem}
input{box-sizing:border-box;width:100%;padding:.55rem .7rem;margin:0 0 1rem;font:inherit;
border:1px solid #b8c2cc;border-radius:5px}
input:focus{outline:2px solid #2563eb;outline-offset:1px;border-color:#2563eb}
button{width:100%;padding:.6rem;font:inherit;font-weight:600;color:#fff;background:#1d4ed8;
border:0;border-radius:5px;cursor:pointer}button:hover{background:#1e40af}
.error{background:#fdecec;color:#8a1c1c;border:1px solid #f5c2c2;border-radius:5px;
padding:.5rem .75rem;margin:0 0 1rem;font-size:.9rem}
a{color:#1d4ed8}ul{padding-left:1.2rem}
"""


def page(title: str, body: str, *, style: str = "") -> str:
    """A self-contained page in this style (phone-sized too); `style` adds rules."""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}{style}</style></head>"
            f"<body><main>{body}</main></body></html>")


def login(*, next_path: str = "/", name: str = "", error: str | None = None) -> str:
    err = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    focus_name, focus_password = ("", " autofocus") if name else (" autofocus", "")
    return page("Sign in · Virtual ward", f"""
<h1>Virtual ward</h1><p class="sub">Sign in to the monitoring hub</p>{err}
<form method="post" action="/login">
<input type="hidden" name="next" value="{escape(next_path)}">
<label for="name">Name</label>
<input id="name" name="name" autocomplete="username" required{focus_name} value="{escape(name)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password"
 required{focus_password}>
<button type="submit">Sign in</button></form>""")


def placeholder(user: str, role: str) -> str:
    return page("Virtual ward", f"""
<h1>Virtual ward</h1><p class="sub">Signed in as {escape(user)} ({escape(role)})</p>
<p>The ward dashboard is not installed in this build. The REST and FHIR APIs are:</p>
<ul><li><a href="/docs">API documentation</a></li>
<li><a href="/api/v1/wards">Wards</a></li></ul>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>""")
