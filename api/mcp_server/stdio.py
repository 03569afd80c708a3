"""`python -m api mcp [--as-of ISO]`: the MCP tools over stdin/stdout, for desktop agents that start a command.

Reads the same environment as the HTTP API (REDIS_URL, FEATURE_STORE_KEY_PREFIX, ...);
stdout carries the protocol only, so anything said goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from api.app import open_store
from api.core.config import Settings
from api.core.errors import ApiError
from api.mcp_server.tools import build_server
from feature_store.clock import AS_OF_ENV
from feature_store.errors import FeatureStoreError

logger = logging.getLogger("api")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m api mcp", description="Serve the MCP tools over stdio.")
    parser.add_argument("--as-of", help=f"pin the read clock to an ISO timestamp (env {AS_OF_ENV})")
    return parser.parse_args(argv)


async def serve(settings: Settings) -> None:
    store = await open_store(settings)
    try:
        try:
            await store.served_registry()
        except ApiError as error:  # reported per call, as the HTTP API does
            logger.warning("starting without a feature registry: %s", error.detail)
        await build_server(lambda: store).run_stdio_async()
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
    try:
        settings = Settings.from_env(as_of=args.as_of)
    except FeatureStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    asyncio.run(serve(settings))
    return 0
