"""`metasparse dashboard`: a local web app (Dash and Plotly) over results directories, live while
`metasparse optimize` writes them. It reads them through metasparse.analysis and
metasparse.results, keeps no state of its own and writes nothing.

    from metasparse.dashboard import RunStore, create_app, discover_runs, serve
    app = create_app(RunStore(discover_runs(["results"])))
    serve(app, "127.0.0.1", 8050).serve_forever()
"""

from metasparse._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "_app": ["check_host", "create_app", "serve"],
    "_pages": ["PAGES", "render"],
    "_store": ["RunStore", "Unreadable", "discover_runs"],
})

__all__ = ["PAGES", "RunStore", "Unreadable", "check_host", "create_app", "discover_runs",
           "render", "serve"]
