"""`python -m api [--host H] [--port P] [--workers N] [--as-of ISO]`: serve features over HTTP.

`python -m api mcp [--as-of ISO]` serves the same answers as MCP tools over stdio instead
(api.mcp_server.stdio); over HTTP they are at /mcp.

Tuned for production with `--workers` (one per core), uvloop and httptools (the
defaults when installed). With several workers, each is its own process, so the
metrics use Prometheus' multiprocess mode in a fresh folder, removed on exit.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import tempfile
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from api.app import resolve_redis_url
from api.core.config import ACCESS_LOG_ENV, Settings
from api.core.metrics import MULTIPROC_ENV
from feature_store.clock import AS_OF_ENV
from feature_store.errors import FeatureStoreError
from feature_store.online.client import REDIS_URL_ENV, describe


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m api", description="Serve online features over HTTP.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes, about one per core (default: 1)")
    parser.add_argument("--loop", default="auto", choices=["auto", "uvloop", "asyncio"],
                        help="event loop (default: auto, which is uvloop when installed)")
    parser.add_argument("--http", default="auto", choices=["auto", "httptools", "h11"],
                        help="HTTP parser (default: auto, which is httptools when installed)")
    parser.add_argument("--as-of", help=f"pin the read clock to an ISO timestamp (env {AS_OF_ENV})")
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.add_argument(
        "--access-log", action="store_true",
        help=f"one JSON line per request on stdout (env {ACCESS_LOG_ENV}=1; off by default: it costs throughput)",
    )
    return parser.parse_args(argv)


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the API's loggers: `api` on stderr, `api.access` JSON lines on stdout."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["plain"] = {"format": "%(message)s"}
    config["handlers"]["api_access"] = {
        "formatter": "plain", "class": "logging.StreamHandler", "stream": "ext://sys.stdout",
    }
    config["loggers"]["api"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    config["loggers"]["api.access"] = {"handlers": ["api_access"], "level": "INFO", "propagate": False}
    return config


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mcp"]:
        from api.mcp_server import stdio

        return stdio.main(argv[1:])
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
    if args.access_log:
        os.environ[ACCESS_LOG_ENV] = "1"
    metrics_dir = None
    if args.workers > 1 and not os.environ.get(MULTIPROC_ENV):
        metrics_dir = tempfile.mkdtemp(prefix="feature-api-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir  # before any worker imports prometheus_client
    print(
        f"serving features from {describe(url)} on http://{args.host}:{args.port} with {args.workers} "
        f"worker(s) (docs at /docs){'; API key required' if settings.api_key else ''}",
        file=sys.stderr,
    )
    try:
        uvicorn.run(
            "api.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            log_config=log_config(),
            access_log=False,  # the API writes its own, structured (--access-log)
            loop=args.loop,
            http=args.http,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
