"""The dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium opens every page of a real results directory, reads the Plotly figures back
from the DOM, and watches a trial appended to the run appear without a reload.

Where the browser is missing the test skips with the command that installs it, except under
METASPARSE_REQUIRE_BROWSER=1 (set by .ci/run, which installs it): there it fails, so that CI can
never pass without having run it.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from dashboard_helpers import append_trial, copy_reference, dashboard

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
    """Run `script` until its value is `ready` (WAIT_S at most)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        value = browser.execute_script(script)
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


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
