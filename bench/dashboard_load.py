"""Page load times of `metasparse dashboard` in headless Chromium, and the delay until a new
trial shows: each page opened by its link (no reload) on a fresh server (every analysis computed
then: a cold cache), then opened again (from the cache); a trial appended through the results
store (as `metasparse optimize` records one), timed until the cost plot holds it.

    .venv/bin/python bench/dashboard_load.py RESULTS_DIR [--interval 2] [--appends 5]

It copies RESULTS_DIR to a temporary folder (the appends never touch it). Needs Debian's
chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "dashboard"))

from dashboard_helpers import append_trial, dashboard
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from metasparse.dashboard import PAGES

READY = """const h = document.querySelector('#page h3');
if (!h || h.innerText != arguments[0]) return false;
const graphs = document.querySelectorAll('#page .dash-graph');
return Array.from(graphs).every(g => g.querySelector('.js-plotly-plot') &&
                                     g.querySelector('.js-plotly-plot')._fullData);"""
POINTS = """const g = document.querySelector('#graph-cost .js-plotly-plot');
return g && g._fullData ? g._fullData[0].x.length : 0;"""


def wait(browser, script: str, *args, timeout: float = 120.0) -> float:
    start = time.monotonic()
    while not browser.execute_script(script, *args):
        if time.monotonic() - start > timeout:
            raise TimeoutError(script)
        time.sleep(0.01)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--appends", type=int, default=5)
    args = parser.parse_args()
    run = Path(tempfile.mkdtemp()) / args.results.name
    shutil.copytree(args.results, run, ignore=shutil.ignore_patterns("smac", "ray"))
    options = Options()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        with dashboard(run, interval_s=args.interval) as url:
            start = time.monotonic()
            browser.get(f"{url}/runs")
            wait(browser, "return document.getElementById('runs-table') !== null")
            print(f"first load (runs page): {time.monotonic() - start:.2f} s")
            times: dict[str, list[float]] = {page: [] for page in PAGES}
            for _ in ("cold", "cached"):
                for page, (title, _) in PAGES.items():
                    browser.execute_script(f"document.getElementById('link-{page}').click()")
                    times[page].append(wait(browser, READY, title))
            print("page | cold (s) | cached (s)")
            for page, (cold, cached) in times.items():
                print(f"{page} | {cold:.2f} | {cached:.2f}")
            browser.execute_script("document.getElementById('link-cost').click()")
            wait(browser, READY, PAGES["cost"][0])
            delays = []
            for k in range(args.appends):
                points = browser.execute_script(POINTS)
                append_trial(run, 0.5 + 0.01 * k)
                appended = time.monotonic()
                while browser.execute_script(POINTS) != points + 1:
                    time.sleep(0.01)
                delays.append(time.monotonic() - appended)
            print(f"live update delay over {args.appends} appends (poll every {args.interval} s):"
                  f" mean {statistics.mean(delays):.2f} s, min {min(delays):.2f}, "
                  f"max {max(delays):.2f}")
    finally:
        browser.quit()


if __name__ == "__main__":
    main()
