"""`metasparse dashboard [RESULTS ...] [--host H] [--port P] [--interval S] [--allow-remote]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from metasparse.dashboard._names import PAGE_NAMES
from metasparse.errors import MetasparseError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve a dashboard of results directories in the browser, live while `metasparse "
        "optimize` writes them: pages " + ", ".join(["runs", *PAGE_NAMES]) + ". Read-only; it "
        "listens on 127.0.0.1 only unless --allow-remote. Stop it with Ctrl-C (it keeps no "
        "state, so nothing is lost).")
    parser.add_argument("results", nargs="*", type=Path, default=[Path("results")],
                        help="results directories, or folders searched for them, also for "
                             "runs that start later (default: every run under results/)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8050, help="port (default: 8050)")
    parser.add_argument("--interval", type=float, default=2.0,
                        help="seconds between two polls of the results (default: 2)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host that other machines can reach (no authentication)")


def run(args: argparse.Namespace) -> int:
    from metasparse.dashboard._app import check_host, create_app, serve
    from metasparse.dashboard._store import RunStore

    check_host(args.host, args.allow_remote)
    if not 0 <= args.port <= 65535:
        raise MetasparseError(f"The '--port' parameter must be in [0, 65535]; got {args.port}")
    if args.interval <= 0:
        raise MetasparseError(f"The '--interval' parameter must be positive; got {args.interval}")
    store = RunStore.discover(args.results)
    try:
        server = serve(create_app(store, interval_s=args.interval), args.host, args.port)
    except OSError as exc:
        raise MetasparseError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") \
            from None
    print(f"metasparse dashboard: {len(store.directories)} run(s) at "
          f"http://{args.host}:{server.port}/ (Ctrl-C stops it)", flush=True)
    server.serve_forever()  # until Ctrl-C, which werkzeug's server takes to close itself
    print("metasparse dashboard: stopped")
    return 0
