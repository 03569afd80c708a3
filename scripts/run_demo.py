"""`make run`: the whole pipeline on this machine, then the API in the foreground.

Starts the embedded redis-server (unless REDIS_URL is set), runs `dbt build`
(seeds, models, tests), syncs every feature view into Redis and serves the API.
Ctrl-C stops the API and the Redis this script started.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def step(title: str, command: list[str], env: dict[str, str]) -> None:
    print(f"\n==> {title}: {' '.join(command)}", flush=True)
    result = subprocess.run(command, cwd=PROJECT_DIR, env=env)
    if result.returncode != 0:
        raise SystemExit(f"{title} failed (exit {result.returncode}); see the output above")


def push_command(base: str) -> str:
    """A shell command pushing one user_last_genre row for user 42, dated now."""
    row = ('{"user_id": 42, "event_timestamp": "\'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"\'", '
           '"last_genre": "documentary", "last_title_id": 7}')
    return f"curl -s -X POST {base}/push/user_last_genre -H 'content-type: application/json' -d '[{row}]'"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()

    # A `kill` (SIGTERM) cleans up like Ctrl-C: the API and the Redis started here stop.
    signal.signal(signal.SIGTERM, _interrupt)
    sys.path.insert(0, str(PROJECT_DIR))
    from feature_store.errors import FeatureStoreError
    from feature_store.online.embedded.server import ensure_project_redis, running_project_redis, stop_project_redis

    env = {**os.environ, "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles")}
    started_redis = False
    if not env.get("REDIS_URL"):
        started_redis = running_project_redis(PROJECT_DIR) is None
        try:
            env["REDIS_URL"] = ensure_project_redis(PROJECT_DIR)
        except FeatureStoreError as error:
            raise SystemExit(f"error: {error}") from error
        print(f"==> embedded redis-server at {env['REDIS_URL']} (data in .redis/)")
    try:
        step("dbt build", [str(BIN / "dbt"), "build"], env)
        step("sync", [str(BIN / "python"), "-m", "sync"], env)
        step("catalog", [str(BIN / "dbt"), "docs", "generate", "--static"], env)
        base = f"http://{args.host}:{args.port}"
        print(
            f"\n==> serving on {base}  (Ctrl-C stops the API{' and Redis' if started_redis else ''})\n"
            f"    curl -s {base}/features/user/42\n"
            f"    curl -s -X POST {base}/features/user -H 'content-type: application/json' "
            "-d '{\"ids\": [1, 2, 3]}'\n"
            f"    curl -s {base}/registry\n"
            f"    push a live row (user_last_genre takes pushes); /features/user/42 shows it at once:\n"
            f"    {push_command(base)}\n"
            f"    python examples/push_producer.py --url {base}  (simulated viewers pushing last_genre)\n"
            f"    open {base}/catalog for the feature catalog\n"
            f"    open {base}/docs for the interactive API docs\n",
            flush=True,
        )
        api = subprocess.Popen(
            [str(BIN / "python"), "-m", "api", "--host", args.host, "--port", str(args.port)],
            cwd=PROJECT_DIR, env=env,
        )
        try:
            return api.wait()
        except KeyboardInterrupt:
            api.terminate()
            api.wait(timeout=15)
            return 0
    finally:
        if started_redis:
            stop_project_redis(PROJECT_DIR)
            print("==> stopped the embedded redis-server")


if __name__ == "__main__":
    sys.exit(main())
