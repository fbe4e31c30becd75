"""The dashboard is safe by default: loopback only, nothing served outside Dash's own scripts and
the dashboard's stylesheet (path traversal refused over real HTTP), read-only, and a results
directory that is partial, being written or from an older version shows what it can and says
what it cannot."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from dashboard_helpers import append_trial, copy_reference, dashboard, page_text

from metasparse.cli import main
from metasparse.dashboard import (
    RunStore,
    Unreadable,
    check_host,
    create_app,
    discover_runs,
    render,
)
from metasparse.dashboard._app import VALUES
from metasparse.errors import MetasparseError
from metasparse.results import SCENARIO, TRIALS

TRAVERSALS = [
    "/_dash-component-suites/dash/../../../../../../../../etc/passwd",
    "/_dash-component-suites/dash/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/_dash-component-suites/dash/" + "..%2f" * 12 + "etc/passwd",
    "/assets/..%5c..%5c..%5cetc/passwd",
    "/static/../../../../etc/passwd",
    "/dashboard.css/../../../../etc/passwd",
]


def get(url: str, path: str) -> tuple[int, bytes]:
    """A GET of `path` exactly as written (no client-side normalisation of '..')."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def test_a_path_traversal_request_is_refused(tmp_path):
    run = copy_reference(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT\n")
    relative = "..%2f" * 20 + str(secret).lstrip("/")
    with dashboard(run) as url:
        assert get(url, "/")[0] == 200
        layout = json.loads(get(url, "/_dash-layout")[1])
        assert layout["type"] == "Div"  # the app itself answers
        for path in [*TRAVERSALS, f"/_dash-component-suites/dash/{relative}",
                     f"/assets/{relative}", f"/{relative}"]:
            status, body = get(url, path)
            assert status == 404, path
            assert b"root:" not in body and b"SECRET-CONTENT" not in body, path
        status, body = get(url, f"/{TRIALS}")  # no route to the results files either
        assert b"trial_id" not in body


def post(url: str, path: str, body: bytes, content_type: str = "application/json"
         ) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("POST", path, body=body, headers={"Content-Type": content_type})
    response = connection.getresponse()
    return response.status, response.read()


CALLBACK = "/_dash-update-component"
# the request of the page callback that the browser sends for the runs page
PAGE = {"output": "..page.children...counts-text.children..",
        "outputs": [{"id": "page", "property": "children"},
                    {"id": "counts-text", "property": "children"}],
        "inputs": [{"id": "url", "property": "pathname", "value": "/runs"},
                   {"id": "run", "property": "value", "value": 0},
                   {"id": "counts", "property": "data", "value": [8]}],
        "changedPropIds": ["url.pathname"]}
# the request of the callback that sets the run chooser from the URL's ?run=N
RUN_OF_URL = {"output": "run.value", "outputs": {"id": "run", "property": "value"},
              "inputs": [{"id": "url", "property": "search", "value": "?run=0"}],
              "changedPropIds": ["url.search"]}


def changed(request: dict | None = None, **fields: object) -> bytes:
    """PAGE (or `request`) with some fields replaced, or (value_<k>) the value of its k-th
    input."""
    body = json.loads(json.dumps(PAGE if request is None else request))
    for name, value in fields.items():
        if name.startswith("value_"):
            body["inputs"][int(name[len("value_"):])]["value"] = value
        else:
            body[name] = value
    return json.dumps(body).encode()


MALFORMED = {
    "not JSON": b"{not json",
    "cut short": json.dumps(PAGE).encode()[:50],
    "a list": b"[1, 2]",
    "null": b"null",
    "no output": b"{}",
    "output not a string": changed(output=["page.children"]),
    "no such callback": changed(output="nowhere.children"),
    "outputs missing": changed(outputs=None),
    "outputs of another callback": changed(outputs={"id": "trial-config",
                                                    "property": "children"}),
    "inputs not a list": changed(inputs="url.pathname"),
    "an input missing": changed(inputs=PAGE["inputs"][:2]),
    "inputs not objects": changed(inputs=[1, 2, 3]),
    "a state of no callback": changed(state=[{"id": "run", "property": "value"}]),
    "pathname a number": changed(value_0=5),
    "search a list": changed(RUN_OF_URL, value_0=["?run=1"]),
    "run a string": changed(value_1="0"),
    "run a bool": changed(value_1=True),
    "counts a string": changed(value_2="8"),
    "counts of strings": changed(value_2=["8"]),
    "changedPropIds a number": changed(changedPropIds=5),
    "active cell without a row": json.dumps({
        "output": "trial-config.children",
        "outputs": {"id": "trial-config", "property": "children"},
        "inputs": [{"id": "trials-table", "property": "active_cell", "value": {"row": "x"}}],
        "state": [{"id": "trials-table", "property": "derived_viewport_data", "value": []}],
        "changedPropIds": []}).encode(),
}


def test_a_malformed_callback_request_is_a_400(tmp_path):
    run = copy_reference(tmp_path)
    with dashboard(run) as url:
        status, body = post(url, CALLBACK, json.dumps(PAGE).encode())
        assert status == 200 and b"runs-table" in body  # what the page sends is answered
        status, body = post(url, CALLBACK, json.dumps(RUN_OF_URL).encode())
        assert status == 200 and json.loads(body)["response"]["run"]["value"] == 0
        for name, malformed in MALFORMED.items():
            status, body = post(url, CALLBACK, malformed)
            assert status == 400, (name, status, body[:300])
            assert body.startswith(b"bad callback request: ") and body.count(b"\n") == 1, name
        status, body = post(url, CALLBACK, json.dumps(PAGE).encode(), "text/plain")
        assert status == 400 and body.startswith(b"bad callback request: ")


def test_every_callback_value_has_a_check():
    app = create_app(RunStore([]))
    for callback in app.callback_map.values():
        for item in [*callback["inputs"], *callback["state"]]:
            assert (item["id"], item["property"]) in VALUES, item


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.org"])
def test_only_loopback_unless_allowed(host, capsys, tmp_path):
    run = copy_reference(tmp_path)
    # an invalid port as well: were the host let through, the command would stop at the port
    # instead of serving on `host`
    assert main(["dashboard", str(run), "--host", host, "--port", "-1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "The '--host' parameter must be a loopback address" in error and host in error
    check_host(host, allow_remote=True)
    assert "warning: serving on" in capsys.readouterr().err
    for loopback in ("127.0.0.1", "::1", "localhost"):
        check_host(loopback, allow_remote=False)


def test_bad_directories_are_one_line_errors(tmp_path, capsys):
    assert main(["dashboard", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(MetasparseError, match="no results directory"):
        discover_runs([tmp_path / "empty"])
    assert main(["dashboard", str(copy_reference(tmp_path)), "--interval", "0"]) == 2
    assert "The '--interval' parameter must be positive" in capsys.readouterr().err


def test_discovers_every_run_under_a_folder(tmp_path):
    first, second = copy_reference(tmp_path, "a"), copy_reference(tmp_path, "b")
    assert discover_runs([tmp_path]) == [first.resolve(), second.resolve()]
    assert discover_runs([first, tmp_path]) == [first.resolve(), second.resolve()]


def test_unreadable_directories_show_what_they_can(tmp_path):
    missing = copy_reference(tmp_path, "no-scenario")
    (missing / SCENARIO).unlink()
    older = copy_reference(tmp_path, "older")
    # another version's table: a parameter that this space does not have
    header, rest = (older / TRIALS).read_text().split("\n", 1)
    (older / TRIALS).write_text(
        header.replace("config.grow_random_ratio", "config.no_such_parameter") + "\n" + rest)
    store = RunStore(discover_runs([missing, older]))
    overview = page_text(render(store, "runs", None))
    assert "scenario.yaml' is missing" in overview
    assert "does not match the space" in overview and "no_such_parameter" in overview
    for index in (0, 1):
        for page in ("trials", "cost", "importance", "pdp"):
            text = page_text(render(store, page, index))
            assert "cannot be analyzed" in text and "Traceback" not in text
            assert text.count('"trial_id":') == 8  # the raw rows, shown all the same
    assert "no page 'nowhere'" in page_text(render(store, "nowhere", 0))


def test_a_torn_last_line_is_no_trial_yet(tmp_path):
    run = copy_reference(tmp_path)
    store = RunStore(discover_runs([run]))
    with (run / TRIALS).open("a") as handle:
        handle.write("8,success,0.1,10,0,all,0.1")  # a row being written
    assert store.counts() == [8]
    assert isinstance(store.results(0), Unreadable) is False
    assert "8 trials" in page_text(render(store, "trials", 0))


def test_analyses_are_cached_by_trial_count(tmp_path):
    run = copy_reference(tmp_path)
    store = RunStore(discover_runs([run]))
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert store.cached(0, "x", compute) == 1
    assert store.cached(0, "x", compute) == 1  # same trial count: from the cache
    append_trial(run, 0.05)
    assert store.cached(0, "x", compute) == 2  # a new trial: computed again
    assert len(store.results(0).trials) == 9
    assert store.cached(0, "failing", lambda: 1 / 0) == "ZeroDivisionError: division by zero"


def test_the_command_serves_on_loopback_and_stops_on_ctrl_c(tmp_path):
    run = copy_reference(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "metasparse.cli", "dashboard", str(run), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        assert get(url, "/")[0] == 200
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0 and "stopped" in out and "Traceback" not in out


def test_runs_that_start_later_are_added_at_the_end(tmp_path):
    first = copy_reference(tmp_path, "b")
    store = RunStore.discover([tmp_path / "results"])
    assert store.directories == [first.resolve()]
    assert store.refresh() is False
    second = copy_reference(tmp_path, "a")  # sorts first, but the first run keeps index 0
    assert store.refresh() is True
    assert store.directories == [first.resolve(), second.resolve()]
    assert store.counts() == [8, 8]
