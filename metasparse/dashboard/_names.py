"""The names of the dashboard's pages (the keys of _pages.PAGES), for the help of `metasparse
dashboard` without importing Dash and Plotly, which the pages need; tests/dashboard checks that
they agree."""

PAGE_NAMES = ["trials", "cost", "incumbent", "importance", "ablation", "shapley", "parallel",
              "pdp", "footprint", "budget", "pareto", "instances"]
