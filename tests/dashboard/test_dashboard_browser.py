"""The dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium opens every page of a real results directory, reads the Plotly figures back
from the DOM, and watches a trial appended to the run appear without a reload; and it checks
what the eye sees: the run chooser naming the run of `?run=N`, labels and legends that no other
text covers, short numbers and the app's own stylesheet.

Where the browser is missing the test skips with the command that installs it, except under
METASPARSE_REQUIRE_BROWSER=1 (set by .ci/run, which installs it): there it fails, so that CI can
never pass without having run it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from dashboard_helpers import append_trial, copy_reference, dashboard, long_numbers

from metasparse.analysis import (
    fanova,
    fit_surrogate,
    load_results,
    pareto_trials,
    searched_parameters,
    surrogate_ablation,
)
from metasparse.dashboard import PAGES

INSTALL = "apt-get install -y chromium chromium-driver"
WAIT_S = 20.0


@pytest.fixture(scope="module")
def browser() -> Any:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        message = (f"the dashboard's browser test needs Chromium and its driver "
                   f"(missing: {'chromium' if chromium is None else 'chromedriver'}); "
                   f"install them with `{INSTALL}`")
        if os.environ.get("METASPARSE_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,900"):
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


def wait_for(browser: Any, script: str, ready=lambda value: bool(value)) -> Any:
    """Run `script` until its value is `ready` (WAIT_S at most); its last value."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.wait import WebDriverWait

    values = []

    def done(driver: Any) -> bool:
        values.append(driver.execute_script(script))
        return ready(values[-1])

    with contextlib.suppress(TimeoutException):  # the caller's assertion says what is wrong
        WebDriverWait(browser, WAIT_S, poll_frequency=0.05).until(done)
    return values[-1]


TRACES_JS = """const g = document.querySelector('#graph-GRAPH .js-plotly-plot');
return g && g._fullData ? g._fullData.map(t => ({type: t.type, name: t.name, x: t.x || null,
    y: t.y || null, dims: t.dimensions ? t.dimensions.map(d => d.values.length) : null}))
  : null"""


def traces(browser: Any, graph: str) -> Any:
    """The traces of a dcc.Graph as Plotly drew them (null until it has)."""
    return wait_for(browser, TRACES_JS.replace("GRAPH", graph))


def open_page(browser: Any, page: str, graph: str | None = None) -> Any:
    """Follow the page's link (no reload) and wait for its graph, or for its text."""
    browser.execute_script(f"document.getElementById('link-{page}').click()")
    if graph is not None:
        return traces(browser, graph)
    title = PAGES[page][0]
    return wait_for(browser, "const h = document.querySelector('#page h3'); "
                             f"return h && h.innerText == '{title}' ? "
                             "document.getElementById('page').innerText : null")


def files_of(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_every_page_in_a_browser_and_a_new_trial_appears_live(browser, tmp_path, tiny_mo_run):
    started = time.monotonic()
    run = copy_reference(tmp_path)
    results = load_results(run)
    n = len(results.trials)
    before = files_of(run)
    with dashboard(run.parent, tiny_mo_run) as url:
        browser.get(f"{url}/runs")
        text = wait_for(browser, "const t = document.getElementById('runs-table'); "
                                 "return t ? t.innerText : null")
        assert results.name in text and "tiny-mo" in text

        cost = open_page(browser, "cost", "cost")
        assert [len(t["x"]) for t in cost] == [n, n]  # the trials and the incumbent's steps
        # the README's screenshot: METASPARSE_DASHBOARD_SCREENSHOT=docs/dashboard.png
        screenshot = os.environ.get("METASPARSE_DASHBOARD_SCREENSHOT")
        browser.save_screenshot(screenshot or str(tmp_path / "dashboard.png"))

        rows = open_page(browser, "trials") and wait_for(
            browser, "return document.querySelectorAll('#trials-table tbody tr').length",
            lambda v: v > n)
        assert rows == n + 2  # the header, the filter row and a row per trial
        browser.execute_script("document.querySelector('#trials-table td[data-dash-column="
                               "\"trial_id\"]').click()")
        config = wait_for(browser, "const l = document.getElementById('trial-config-list'); "
                                   "return l ? l.children.length : null")
        assert config == len(results.params)

        assert "Where the incumbent differs" in open_page(browser, "incumbent")

        importance = fanova(results.trials, results.space).main
        expected = list(importance[importance["importance"] > 0]["parameter"].head(15))
        bars = open_page(browser, "importance", "fanova")
        assert sorted(bars[0]["y"]) == sorted(expected)
        assert traces(browser, "local")[0]["type"] == "bar"

        path = surrogate_ablation(results, fit_surrogate(results.trials, results.space))
        assert len(open_page(browser, "ablation", "ablation")[0]["x"]) == len(path)

        parallel = open_page(browser, "parallel", "parallel")
        assert parallel[0]["dims"] == [n] * (len(searched_parameters(results)) + 1)

        pdp = open_page(browser, "pdp", "pdp-0")
        assert len(pdp) == n + 1  # an ICE curve per trial and the partial dependence
        assert len(pdp[-1]["x"]) == 20

        assert len(open_page(browser, "footprint", "footprint")[0]["x"]) == n
        assert "several budgets" in open_page(browser, "budget")
        assert "two objectives" in open_page(browser, "pareto")
        instances = open_page(browser, "instances", "instances")
        assert [len(t["x"]) for t in instances] == [len(results.tuning_instances)] * 2

        browser.get(f"{url}/pareto?run=1")
        pareto = traces(browser, "pareto")
        assert len(pareto[0]["x"]) == len(pareto_trials(load_results(tiny_mo_run)))
        assert "Traceback" not in browser.find_element("tag name", "body").text
        assert files_of(run) == before  # the dashboard wrote nothing

        copy_reference(tmp_path, "started-later")  # a run that starts while it serves
        browser.get(f"{url}/runs")
        rows = wait_for(browser, "return document.querySelectorAll('#runs-table tbody tr')"
                                 ".length", lambda v: v == 4)
        assert rows == 4  # the header and three runs

        browser.get(f"{url}/cost?run=0")
        assert len(traces(browser, "cost")[0]["x"]) == n
        browser.execute_script("window.notReloaded = true")
        append_trial(run, 0.01, grow_random_ratio=0.5)
        appended = time.monotonic()
        grown = wait_for(browser, "const g = document.querySelector('#graph-cost "
                                  ".js-plotly-plot'); return g._fullData[0].x.length",
                         lambda v: v == n + 1)
        delay = time.monotonic() - appended
        assert grown == n + 1
        assert browser.execute_script("return window.notReloaded === true")
    print(f"live update delay {delay:.2f} s (poll every 0.5 s); whole browser test "
          f"{time.monotonic() - started:.1f} s")


BOXES_JS = """const g = document.querySelector('#graph-GRAPH .js-plotly-plot');
const found = g && g._fullData ? [...g.querySelectorAll('SELECTOR')] : [];
return found.length && found.length == COUNT ? found.map(e => {
    const r = e.getBoundingClientRect();
    return {text: e.textContent, left: r.left, top: r.top, right: r.right, bottom: r.bottom}})
  : null"""


def boxes(browser: Any, graph: str, selector: str, count: str) -> Any:
    """The boxes on screen of the elements of a graph that `selector` picks, once Plotly has
    drawn `count` of them (a JavaScript expression of its div `g`); None if it never does."""
    script = BOXES_JS.replace("GRAPH", graph).replace("SELECTOR", selector)
    return wait_for(browser, script.replace("COUNT", count))


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] \
        and b["top"] < a["bottom"]


def hover_text(browser: Any, graph: str) -> str:
    """The hover label of the first point of a graph's first trace."""
    traces(browser, graph)
    browser.execute_script(f"const g = document.querySelector('#graph-{graph} .js-plotly-plot');"
                           " Plotly.Fx.hover(g, [{curveNumber: 0, pointNumber: 0}])")
    return wait_for(browser, f"const h = document.querySelector('#graph-{graph} .hoverlayer');"
                             " return h ? h.textContent : null")


@pytest.fixture
def two_runs(tmp_path, tiny_mo_run) -> Any:
    """The dashboard (its URL) of a copy of the reference run (run 0) and the two-objective tiny
    run (run 1: 27 searched parameters)."""
    with dashboard(copy_reference(tmp_path), tiny_mo_run) as url:
        yield url


def test_the_url_chooses_the_run_in_the_chooser(browser, two_runs, tiny_mo_run):
    browser.get(f"{two_runs}/pareto?run=1")
    chosen = wait_for(browser, "const v = document.getElementById('run-value'); "
                               "return v ? v.innerText : ''", lambda v: v.startswith("1:"))
    assert chosen == f"1: {tiny_mo_run.name} ({tiny_mo_run.parent.name})"
    browser.execute_script("document.getElementById('run').click()")  # then choose run 0
    browser.execute_script("document.querySelector('[role=option][data-option-index=\"0\"]')"
                           ".click()")
    text = wait_for(browser, "const p = document.getElementById('page'); "
                             "return p.innerText.includes('two objectives') ? p.innerText : null")
    assert "two objectives" in text  # the reference run's page, whatever the URL says


def test_parallel_coordinate_labels_are_clear_of_each_other(browser, two_runs):
    browser.get(f"{two_runs}/parallel?run=1")
    # the label of each axis (the parameters' and the cost's) and the figure's title
    labels = boxes(browser, "parallel", ".axis-title, .gtitle",
                   "g._fullData[0].dimensions.length + 1")
    overlapping = [(a["text"], b["text"]) for k, a in enumerate(labels) for b in labels[k + 1:]
                   if overlap(a, b)]
    assert overlapping == []


def test_the_footprint_legend_is_clear_of_its_colour_bar(browser, two_runs):
    browser.get(f"{two_runs}/footprint?run=0")
    (legend,) = boxes(browser, "footprint", ".legend", "1")
    (bar,) = boxes(browser, "footprint", ".colorbar", "1")
    assert not overlap(legend, bar), (legend, bar)


def test_numbers_are_shown_with_few_digits(browser, two_runs):
    browser.get(f"{two_runs}/runs")
    runs = wait_for(browser, "const t = document.getElementById('runs-table'); "
                             "return t ? t.innerText : null")
    assert "best cost" in runs and long_numbers(runs) == []
    for page, graph in (("footprint", "footprint"), ("cost", "cost")):
        open_page(browser, page, graph)
        text = hover_text(browser, graph)
        assert re.search(r"\d\.\d", text) and long_numbers(text) == [], (page, text)
    incumbent = open_page(browser, "incumbent")
    assert "Incumbent: trial" in incumbent and long_numbers(incumbent) == []
    open_page(browser, "trials")
    rows = wait_for(browser, "const t = document.querySelector('#trials-table tbody'); "
                             "return t && t.innerText.includes('success') ? t.innerText : null")
    assert long_numbers(rows) == []


def test_the_stylesheet_is_served_and_applied(browser, two_runs):
    parts = urlsplit(two_runs)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", "/dashboard.css")
    response = connection.getresponse()
    assert (response.status, response.getheader("Content-Type").split(";")[0]) == \
        (200, "text/css")
    assert b"a {" in response.read()
    browser.get(f"{two_runs}/runs")
    rules = wait_for(browser, "const s = [...document.styleSheets].find(s => s.href && "
                              "s.href.endsWith('/dashboard.css')); return s ? s.cssRules.length "
                              ": null")
    assert rules
    link = wait_for(browser, "const a = document.getElementById('link-runs'); return a ? "
                             "getComputedStyle(a).color + ' ' + getComputedStyle(a)"
                             ".textDecorationLine : null")
    assert link != "rgb(0, 0, 238) underline"  # Chromium's own blue underlined link
