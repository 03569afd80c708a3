"""`python -m api [--host H] [--port P] [--workers N] [--as-of ISO]`: serve features over HTTP."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from api.app import resolve_redis_url
from api.settings import Settings
from sync.clock import AS_OF_ENV
from sync.errors import FeatureStoreError
from sync.redis_client import REDIS_URL_ENV, describe


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m api", description="Serve online features over HTTP.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--as-of", help=f"pin the read clock to an ISO timestamp (env {AS_OF_ENV})")
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (off by default: it costs throughput)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env(as_of=args.as_of)
        url = resolve_redis_url(settings)
    except FeatureStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Workers build their app from the environment (api.app:app_from_env), so hand them the
    # resolved Redis URL (the embedded server is started once, here) and the pinned clock.
    os.environ[REDIS_URL_ENV] = url
    if settings.as_of:
        os.environ[AS_OF_ENV] = settings.as_of
    print(
        f"serving features from {describe(url)} on http://{args.host}:{args.port} (docs at /docs)",
        file=sys.stderr,
    )
    uvicorn.run(
        "api.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
        loop="auto",
        http="auto",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
