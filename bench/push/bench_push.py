"""Push ingestion beside Feast 0.67's feature server, side by side in one run.

    python -m bench.push.bench_push [--single 3000] [--rate 1000] [--bulk-rows 10000] [--bulk-rounds 5]

What runs, all on 127.0.0.1 and in this one command, each server with one worker and a redis-server
of its own:
- ours: the demo project built (`dbt build`) and synced, then `python -m api`; pushes go to
  `POST /push/user_last_genre`, durable before the answer (the push log's file fsynced and renamed);
- Feast 0.67 (in its own virtualenv, `.feast-venv`: `make install-feast`): the
  same view as a PushSource over a Parquet FileSource, `feast apply`, `feast serve`; pushes go to
  `POST /push`: bulk pushes with `to: online_and_offline` (Feast rewrites the Parquet file, its offline
  store, with every push), single-row pushes with `to: online` (concurrent `online_and_offline` pushes
  read each other's half-rewritten Parquet file and fail with 500: Feast's file store is not made for it).

Measured, the same rows for both:
- single-row pushes due at `--rate` per second (open loop, from 8 client connections): the latency
  of each push from its due time (p50, p99) and the rate held;
- push to readable: every 20th push, the time from sending it until a read of the API
  (`GET /features/user/{id}` / Feast's `POST /get-online-features`) returns the new value;
- bulk pushes of `--bulk-rows` rows (columns): rows per second, best of `--bulk-rounds`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.push.feast_repo import write_repo
from feature_store.online.embedded.server import EmbeddedRedis, free_port

REPO = Path(__file__).resolve().parents[2]
FEAST_VENV = REPO / ".feast-venv"
PROJECT_PARTS = ("dbt_project.yml", "profiles", "seeds", "models", "macros", "data")
GENRES = ("drama", "comedy", "documentary", "thriller", "romance", "animation", "crime", "horror")


@dataclass
class Pushes:
    name: str
    url: str
    single: Callable[[list[dict[str, Any]]], tuple[str, bytes]]  # rows -> (path, body)
    bulk: Callable[[list[dict[str, Any]]], tuple[str, bytes]]
    read: Callable[[int], tuple[str, str, bytes | None]]  # user -> (method, path, body)
    value: Callable[[dict[str, Any]], Any]  # the read's answer -> last_genre


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _connection(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


def _request(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None) -> bytes:
    connection.request(method, path, body=body, headers={"content-type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{method} {path} answered {response.status}: {data[:300]!r}")
    return data


def rows(count: int, start: datetime, rng: random.Random) -> list[dict[str, Any]]:
    return [{"user_id": rng.randint(1, 3000), "event_timestamp": (start + timedelta(microseconds=i)).isoformat(),
             "last_genre": rng.choice(GENRES) + f"-{i}", "last_title_id": i} for i in range(count)]


def run_single(pushes: Pushes, count: int, rate: float, seed: int, connections: int = 8) -> dict[str, float]:
    """Single-row pushes sent on a fixed schedule (`rate` per second, open loop: a push is due at its time
    whether or not earlier ones have been answered), from `connections` client threads. A push's latency
    counts from its due time, so a server that falls behind is charged for the wait too."""
    rng = random.Random(seed)
    batch = rows(count, datetime.now(UTC) - timedelta(seconds=5), rng)
    for index, row in enumerate(batch):
        row["user_id"] = 100_000 + index  # one push per entity: the read-back waits for this push's value
    latencies: list[float] = [0.0] * count
    readable: list[float] = []
    began = time.perf_counter() + 0.2
    lock = threading.Lock()

    def client(worker: int) -> None:
        connection, reader = _connection(pushes.url), _connection(pushes.url)
        for index in range(worker, count, connections):
            due = began + index / rate
            while time.perf_counter() < due:
                time.sleep(max(0.0, due - time.perf_counter() - 0.0005))
            row = batch[index]
            path, body = pushes.single([row])
            _request(connection, "POST", path, body)
            latencies[index] = time.perf_counter() - due
            if index % 20 == 0:
                method, read_path, read_body = pushes.read(row["user_id"])
                deadline = time.perf_counter() + 10
                while pushes.value(json.loads(_request(reader, method, read_path, read_body))) != row["last_genre"]:
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"{pushes.name}: a pushed value was not readable within 10 s")
                with lock:
                    readable.append(time.perf_counter() - due)

    threads = [threading.Thread(target=client, args=(worker,)) for worker in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    return {"pushes": count, "rate": count / seconds, "p50_ms": percentile(latencies, 0.5) * 1e3,
            "p99_ms": percentile(latencies, 0.99) * 1e3, "readable_p50_ms": percentile(readable, 0.5) * 1e3,
            "readable_p99_ms": percentile(readable, 0.99) * 1e3}


def run_bulk(pushes: Pushes, count: int, rounds: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    connection = _connection(pushes.url)
    best = 0.0
    for number in range(rounds):
        batch = rows(count, datetime.now(UTC) - timedelta(seconds=60 - number), rng)
        path, body = pushes.bulk(batch)
        sent = time.perf_counter()
        _request(connection, "POST", path, body)
        best = max(best, count / (time.perf_counter() - sent))
    return {"rows": count, "rows_per_second": best}


def columns(batch: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in batch] for name in batch[0]}


def ours(url: str) -> Pushes:
    return Pushes(
        "ours", url,
        single=lambda batch: ("/push/user_last_genre", json.dumps(batch).encode()),
        bulk=lambda batch: ("/push/user_last_genre", json.dumps(columns(batch)).encode()),
        read=lambda user: ("GET", f"/features/user/{user}?features=last_genre", None),
        value=lambda answer: answer["features"]["last_genre"],
    )


def feast(url: str) -> Pushes:
    def body(target: str) -> Callable[[list[dict[str, Any]]], tuple[str, bytes]]:
        def render(batch: list[dict[str, Any]]) -> tuple[str, bytes]:
            frame = columns([{**row, "loaded_at": row["event_timestamp"]} for row in batch])
            return "/push", json.dumps({"push_source_name": "user_last_genre_push", "df": frame,
                                        "to": target}).encode()
        return render

    # Concurrent `online_and_offline` pushes break Feast's file offline store (it rewrites the Parquet file in
    # place: other pushes read it half-written and answer 500), so its single-row pushes go `online` only.
    return Pushes(
        "Feast", url, single=body("online"), bulk=body("online_and_offline"),
        read=lambda user: ("POST", "/get-online-features", json.dumps(
            {"features": ["user_last_genre:last_genre"], "entities": {"user_id": [user]}}).encode()),
        value=lambda answer: answer["results"][1]["values"][0],
    )


def wait_for(url: str, process: subprocess.Popen[bytes], path: str = "/health", seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with {process.returncode}")
        try:
            connection = _connection(url)
            connection.request("GET", path)
            if connection.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url}{path} within {seconds:.0f}s")


def start_ours(work: Path, redis_url: str) -> tuple[subprocess.Popen[bytes], str]:
    project = work / "project"
    project.mkdir()
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, project / part, ignore=shutil.ignore_patterns("*.parquet", "*.json"))
        else:
            shutil.copy2(source, project / part)
    env = {**os.environ, "REDIS_URL": redis_url, "DBT_PROFILES_DIR": str(project / "profiles")}
    env.pop("FEATURE_STORE_AS_OF", None)
    dbt = Path(sys.executable).parent / "dbt"
    subprocess.run([str(dbt), "build", "--project-dir", str(project), "--quiet"], cwd=project, env=env, check=True)
    subprocess.run([sys.executable, "-m", "sync", "--project-dir", str(project)], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "api", "--port", str(port)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(url, process)
    return process, url


def start_feast(work: Path, redis_port: int) -> tuple[subprocess.Popen[bytes], str]:
    if not (FEAST_VENV / "bin" / "feast").exists():
        raise SystemExit(f"Feast is not installed in {FEAST_VENV}: run `make install-feast`")
    repo = work / "feast_repo"
    write_repo(repo, redis_port)
    python, feast_cli = FEAST_VENV / "bin" / "python", FEAST_VENV / "bin" / "feast"
    subprocess.run([str(python), "seed.py"], cwd=repo, check=True)
    subprocess.run([str(feast_cli), "apply"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    process = subprocess.Popen([str(feast_cli), "serve", "-p", str(port), "-w", "1", "--no-access-log",
                                "--max-requests", "100000000"], cwd=repo,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(url, process)
    return process, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=3000, help="single-row pushes per server (default 3000)")
    parser.add_argument("--rate", type=float, default=1000, help="their pace, per second (default 1000)")
    parser.add_argument("--bulk-rows", type=int, default=10_000)
    parser.add_argument("--bulk-rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                          f"load {os.getloadavg()[0]:.2f} at start"}
    with tempfile.TemporaryDirectory(prefix="bench-push-") as folder:
        work = Path(folder)
        with EmbeddedRedis(work / "redis-ours") as ours_redis, EmbeddedRedis(work / "redis-feast") as feast_redis:
            servers = [start_ours(work, ours_redis.url), start_feast(work, int(feast_redis.url.rsplit(":", 1)[1]
                                                                                .split("/")[0]))]
            try:
                for pushes in (ours(servers[0][1]), feast(servers[1][1])):
                    single = run_single(pushes, args.single, args.rate, seed=1)
                    bulk = run_bulk(pushes, args.bulk_rows, args.bulk_rounds, seed=2)
                    results[pushes.name] = {**single, **bulk}
                    print(pushes.name, json.dumps(results[pushes.name]), flush=True)
            finally:
                for process, _ in servers:
                    process.terminate()
                    process.wait(timeout=30)
    results["load_at_end"] = f"{os.getloadavg()[0]:.2f}"
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
