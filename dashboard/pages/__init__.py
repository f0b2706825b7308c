"""The dashboard's pages, one module each.  Each declares a `Page`: its
route and its callbacks, which `dashboard.app.create_dash` registers on the
app it builds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash


class Page:
    """A page's route and callbacks, registered on each app through Dash's
    public API: `dash.register_page` with the page's layout, and
    `app.callback` for each callback.

    Not `@dash.callback`: that keeps callbacks in one process-wide list
    which the first app to serve a request takes whole, leaving any other
    app of the process (the API's factory, in tests) without them."""

    __slots__ = ("_callbacks", "module", "route")

    def __init__(self, module: str, **route: Any) -> None:
        self.module = module
        self.route = route
        self._callbacks: list[tuple[tuple[Any, ...], dict[str, Any], Callable[..., Any]]] = []

    def callback(self, *dependencies: Any, **options: Any) -> Callable[[Callable], Callable]:
        """Declare a callback of this page, as `@dash.callback` takes it; the
        function itself is left as it is, to be called by tests."""

        def declare(function: Callable[..., Any]) -> Callable[..., Any]:
            self._callbacks.append((dependencies, options, function))
            return function

        return declare

    def register(self, app: dash.Dash, layout: Callable[..., Any]) -> None:
        dash.register_page(self.module, layout=layout, **self.route)
        for dependencies, options, function in self._callbacks:
            app.callback(*dependencies, **options)(function)
