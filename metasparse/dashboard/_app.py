"""The Dash app: a header (run chooser, page links), a poll of the trial counts, and the page.
`?run=N` in the URL chooses run N (in the run chooser too); choosing another there shows it.

Live updates: a dcc.Interval asks the server every `interval_s` seconds for the trial count of
each run (parsing the lines appended to each trials.csv since the last poll); when a count
changed, the stored counts change and the page is drawn again from the results directory. The
app serves only Dash's own scripts and its stylesheet (STYLESHEET, read from the package when
the app is made): Flask's static folder and Dash's assets folder are switched off, so no URL
reaches a file on disk. A callback request that the page cannot have sent (not JSON, another
shape) is answered 400.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
from collections.abc import Callable
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, unquote

import dash
import flask
from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import DependencyException
from werkzeug.serving import make_server

from metasparse.dashboard._format import number
from metasparse.dashboard._pages import PAGES, render
from metasparse.dashboard._store import RunStore
from metasparse.errors import MetasparseError
from metasparse.results import CONFIG_PREFIX

__all__ = ["check_host", "create_app", "serve"]

LOOPBACK_NAMES = ("localhost",)
STYLESHEET = "/dashboard.css"  # the URL of dashboard.css, next to this module


def create_app(store: RunStore, *, interval_s: float = 2.0) -> Dash:
    """The dashboard of the runs in `store` (read-only)."""
    server = flask.Flask("metasparse.dashboard", static_folder=None)
    server.before_request(_refuse_traversal)
    server.register_error_handler(DependencyException, _not_found)
    css = files("metasparse.dashboard").joinpath("dashboard.css").read_text()
    server.add_url_rule(STYLESHEET, "stylesheet",
                        lambda: flask.Response(css, mimetype="text/css"))
    app = Dash("metasparse.dashboard", server=server, title="metasparse dashboard",
               assets_folder="/nonexistent/metasparse-dashboard-assets",
               external_stylesheets=[STYLESHEET], serve_locally=True,
               suppress_callback_exceptions=True, update_title=None)
    # no dev tools, and no request from the browser to plotly's version server
    app.enable_dev_tools(debug=False, dev_tools_disable_version_check=True)
    server.before_request(lambda: _refuse_bad_callback(app))
    links = [dcc.Link("Runs", href="/runs", id="link-runs")]
    links += [dcc.Link(title, href=f"/{page}", id=f"link-{page}")
              for page, (title, _) in PAGES.items()]
    app.layout = lambda: html.Div([
        dcc.Location(id="url"),
        dcc.Interval(id="poll", interval=int(interval_s * 1000)),
        dcc.Store(id="counts", data=store.counts()),
        html.Div([html.B("metasparse dashboard"),
                  dcc.Dropdown(id="run", options=run_options(store), value=0,
                               clearable=False, className="run-chooser")],
                 className="header"),
        html.Nav(links, className="pages"),
        html.Div(id="counts-text", className="counts"),
        html.Div(id="page"),
    ], className="dashboard")

    @app.callback(Output("counts", "data"), Output("run", "options"),
                  Input("poll", "n_intervals"), State("counts", "data"))
    def poll(_: Any, previous: list[int]) -> Any:
        new_runs = store.refresh()
        counts = store.counts()
        return (dash.no_update if counts == previous else counts,
                run_options(store) if new_runs else dash.no_update)

    @app.callback(Output("run", "value"), Input("url", "search"))
    def run_of_url(search: str | None) -> Any:
        query = parse_qs((search or "").lstrip("?"))
        if "run" not in query or not query["run"][0].isdigit():
            return dash.no_update
        run = int(query["run"][0])
        return run if run < len(store.directories) else None

    @app.callback(Output("page", "children"), Output("counts-text", "children"),
                  Input("url", "pathname"), Input("run", "value"), Input("counts", "data"))
    def page(pathname: str | None, run: int | None, counts: list[int]) -> Any:
        name = (pathname or "/").strip("/")
        shown = f"trials: {counts[run]}" if run is not None and 0 <= run < len(counts) else ""
        return render(store, name, run), shown

    @app.callback(Output("trial-config", "children"), Input("trials-table", "active_cell"),
                  State("trials-table", "derived_viewport_data"))
    def trial_config(cell: dict[str, Any] | None, rows: list[dict[str, Any]] | None) -> Any:
        if not cell or not rows or not 0 <= cell["row"] < len(rows):
            return ""
        row = rows[cell["row"]]
        items = [html.Li(f"{k[len(CONFIG_PREFIX):]} = {number(v) if v != '' else '- (inactive)'}")
                 for k, v in row.items() if k.startswith(CONFIG_PREFIX)]
        return [html.H4(f"Configuration of trial {row.get('trial_id')}"),
                html.Ul(items, id="trial-config-list")]

    return app


def run_options(store: RunStore) -> list[dict[str, Any]]:
    return [{"label": f"{k}: {d.name} ({d.parent.name})", "value": k}
            for k, d in enumerate(store.directories)]


def _refuse_traversal() -> Any:
    """No path with a '..' segment (however encoded) gets past here: 404."""
    path = unquote(flask.request.full_path)
    if any(part == ".." for part in re.split(r"[/\\]", path)) or "\0" in path:
        return _not_found(None)
    return None


def _is_int(value: Any) -> bool:
    return type(value) is int  # not a bool


# What the app's own page sends as the value of each input and state of its callbacks.
VALUES: dict[tuple[str, str], Callable[[Any], bool]] = {
    ("poll", "n_intervals"): lambda v: v is None or _is_int(v),
    ("counts", "data"): lambda v: isinstance(v, list) and all(_is_int(c) for c in v),
    ("url", "pathname"): lambda v: v is None or isinstance(v, str),
    ("url", "search"): lambda v: v is None or isinstance(v, str),
    ("run", "value"): lambda v: v is None or _is_int(v),
    ("trials-table", "active_cell"): lambda v: v is None or (isinstance(v, dict)
                                                             and _is_int(v.get("row"))),
    ("trials-table", "derived_viewport_data"):
        lambda v: v is None or (isinstance(v, list) and all(isinstance(r, dict) for r in v)),
}


def _callback_problem(app: Dash, body: Any) -> str | None:
    """Why `body` is no request that the app's page sends to run a callback (None when it is
    one): the callback it names, its outputs, inputs and state as declared, their values of the
    types in VALUES."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    output = body.get("output")
    callback = app.callback_map.get(output) if isinstance(output, str) else None
    if callback is None:
        return "'output' names no callback of this app"
    outputs = callback["output"]
    declared = {
        "outputs": [(o.component_id, o.component_property)
                    for o in (outputs if isinstance(outputs, list) else [outputs])],
        "inputs": [(d["id"], d["property"]) for d in callback["inputs"]],
        "state": [(d["id"], d["property"]) for d in callback["state"]],
    }
    for key, expected in declared.items():
        sent = body.get(key, [])
        if key == "outputs" and not isinstance(outputs, list):
            sent = [sent]  # one output: sent as one object
        if not isinstance(sent, list) or not all(isinstance(d, dict) for d in sent) \
                or [(d.get("id"), d.get("property")) for d in sent] != expected:
            return f"{key!r} are not those of the callback {output!r}"
    for item in [*body["inputs"], *body.get("state", [])]:
        if not VALUES[item["id"], item["property"]](item.get("value")):
            return f"the value of {item['id']}.{item['property']} is not one the page sends"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' is not a list of strings"
    return None


def _refuse_bad_callback(app: Dash) -> Any:
    """A callback request that the page cannot have sent answers 400 with why (rather than a
    500 from Dash or the callback failing on it)."""
    request = flask.request
    if request.method != "POST" or \
            request.path != f"{app.config.routes_pathname_prefix}_dash-update-component":
        return None
    problem = _callback_problem(app, request.get_json(silent=True))
    if problem is None:
        return None
    return flask.Response(f"bad callback request: {problem}\n", status=400,
                          mimetype="text/plain")


def _not_found(_: Any) -> Any:
    return flask.Response("not found\n", status=404, mimetype="text/plain")


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse to serve on an address other machines can reach, unless asked to."""
    try:
        loopback = host in LOOPBACK_NAMES or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_remote:
        raise MetasparseError(
            f"The '--host' parameter must be a loopback address (127.0.0.1, ::1, localhost); "
            f"got {host!r}. The dashboard has no authentication: pass --allow-remote to serve "
            "it to other machines anyway")
    if not loopback:
        print(f"warning: serving on {host}: anyone who reaches it can read these results",
              file=sys.stderr)


def serve(app: Dash, host: str = "127.0.0.1", port: int = 8050) -> Any:
    """A threaded WSGI server for the app (port 0: any free port; `server.port` says which).
    Call `serve_forever()` on it, `shutdown()` to stop."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return make_server(host, port, app.server, threaded=True)
