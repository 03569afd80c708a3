"""Benchmark the sync against the reference path, side by side, on the same data and Redis.

- full sync: `python -m sync --full` of every view (entity-rows/s, wall time, peak RSS);
- incremental sync after a share of entities changed (default 1%): first with the
  new rows appended (the last sync's row groups kept, as a table built in time
  order grows), then with the whole file rewritten in another row order (none
  kept), which is every incremental sync's worst case;
- reference: DuckDB's latest row per entity, the same hashes encoded as RESP in
  Python, piped through `redis-cli --pipe`;
- Redis memory per entity (`INFO memory`).

    python -m bench.sync.bench_sync --entities 1000000 --rounds 2 [--write-readme]

Each side runs `--rounds` times in alternation on a flushed Redis; the best run
of each counts. Figures vary between machines: compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.commands import sync_command
from bench.readme import README, record_block
from bench.sync.generate import VIEWS, change_entities, generate
from feature_store.clock import parse_timestamp
from feature_store.offline import connection as duckdb_connection
from feature_store.offline import history as offline
from feature_store.offline.schema import check_offline
from feature_store.online.embedded.server import EmbeddedRedis, find_redis_server
from feature_store.registry.manifest import load_registry
from feature_store.sql import ID_COLUMN, TS_COLUMN

REPO = Path(__file__).resolve().parents[2]
HEADING = "## Sync (materialization into Redis)"
NARROWED = "in new row groups"  # the sync's summary line when it read only what new row groups point at
STATISTICS = re.compile(r"\(statistics (\d+\.\d+)s of it\)")
AS_OF = "2026-11-27T00:00:00Z"


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float | None = None
    output: str = ""


def run_measured(command: list[str], env: dict[str, str]) -> Run:
    """Run a child process; wall time and its peak resident memory (from wait4's rusage)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    out = process.stdout.read().decode() if process.stdout else ""
    err = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{out}\n{err}")
    return Run(seconds, usage.ru_maxrss / 1024, out)



def reference_sync(project: Path, url: str, port: int) -> Run:
    """Latest rows from DuckDB, RESP built in Python, `redis-cli --pipe` writing them."""
    started = time.perf_counter()
    registry = load_registry(project)
    cli = find_redis_server().parent / "redis-cli"
    pipe = subprocess.Popen([str(cli if cli.exists() else "redis-cli"), "-p", str(port), "--pipe"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert pipe.stdin is not None
    connection = duckdb_connection.connect()
    schemas = check_offline(registry, registry.views)
    for view in registry.views:
        reader = offline.read_latest(connection, view, registry.entity(view.entity), schemas[view.name],
                                     parse_timestamp(AS_OF))
        names = [name.encode() for name in view.feature_names]
        ts_field = f"_ts:{view.name}".encode()
        for batch in reader:
            ids = batch.column(ID_COLUMN).cast("binary").to_pylist()
            stamps = batch.column(TS_COLUMN).cast("binary").to_pylist()
            columns = [batch.column(name.decode()).cast("binary").to_pylist() for name in names]
            out = []
            for row, entity_id in enumerate(ids):
                parts = [b"HSET", b"user:" + entity_id, ts_field, stamps[row]]
                for name, column in zip(names, columns, strict=True):
                    if column[row] is not None:
                        parts += (name, column[row])
                out.append(b"*%d\r\n" % len(parts))
                out.extend(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
            pipe.stdin.write(b"".join(out))
    pipe.stdin.close()
    if pipe.wait() != 0:
        raise SystemExit("redis-cli --pipe failed")
    return Run(time.perf_counter() - started, None)


def statistics_seconds(run: Run) -> float:
    """The time the sync spent on feature statistics (each view's summary line says)."""
    return sum(float(seconds) for seconds in STATISTICS.findall(run.output))


def statistics_row(what: str, run: Run) -> str:
    spent = statistics_seconds(run)
    return (f"| feature statistics and drift, within the {what} | {spent:.2f} s of {run.seconds:.2f} s "
            f"(**{spent / run.seconds:.1%}**) |")


def incremental_row(kind: str, runs: list[Run], full: Run, share: str, changed: int) -> str:
    """A table row: the best incremental sync of a kind against the best full sync, every round shown."""
    best = min(runs, key=lambda run: run.seconds)
    how = {"appended": "new rows appended (row groups of the last sync kept)",
           "reordered": "the whole file rewritten in another row order (no row group kept)"}[kind]
    narrowed = sum(run.output.count(NARROWED) for run in runs)
    return (f"| incremental sync after {share} of entities changed ({changed:,} per view), {how} | "
            f"{best.seconds:.2f} s (**{best.seconds / full.seconds:.1%}** of the full sync; rounds "
            f"{', '.join(f'{run.seconds:.2f}' for run in runs)} s; {narrowed} of {len(runs) * len(VIEWS)} "
            f"view syncs read only the new row groups' entities), peak RSS {best.peak_rss_mb:.0f} MB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--rows-per-entity", type=int, default=3)
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--write-readme", action="store_true", help=f"record the results in {README}")
    parser.add_argument("--workers", default="1,2,4",
                        help="worker counts to time a full sync with, comma-separated (default 1,2,4)")
    parser.add_argument("--memory-only", action="store_true",
                        help="only a full sync's time and peak memory (for very large scales)")
    args = parser.parse_args()

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-sync-"))
    project = work / "project"
    started = time.perf_counter()
    generate(project, args.entities, args.rows_per_entity)
    print(f"generated {len(VIEWS)} views x {args.entities:,} entities in {time.perf_counter() - started:.1f}s")
    entity_rows = args.entities * len(VIEWS)

    with EmbeddedRedis(work / "redis") as server:
        client = redis.Redis.from_url(server.url)
        env = {**os.environ, "REDIS_URL": server.url, "FEATURE_STORE_STATE_DIR": str(work / "state")}
        if args.memory_only:
            run = run_measured(sync_command(project, AS_OF, "--full"), env)
            used = client.info("memory")["used_memory"]
            print(f"full sync of {args.entities:,} entities ({entity_rows:,} entity-rows): {run.seconds:.1f}s, "
                  f"{entity_rows / run.seconds:,.0f} entity-rows/s, peak RSS {run.peak_rss_mb:.0f} MB; "
                  f"Redis used_memory {used / 2**20:,.0f} MiB ({used / args.entities:,.0f} bytes per entity)")
            return
        full_runs, reference_runs = [], []
        memory_per_entity = 0.0
        for round_number in range(args.rounds):
            client.flushall()
            baseline = client.info("memory")["used_memory"]
            reference_runs.append(reference_sync(project, server.url, server.port))
            print(f"round {round_number + 1}: reference {reference_runs[-1].seconds:.2f}s")
            client.flushall()
            shutil.rmtree(work / "state", ignore_errors=True)
            full_runs.append(run_measured(sync_command(project, AS_OF, "--full"), env))
            memory_per_entity = (client.info("memory")["used_memory"] - baseline) / args.entities
            print(f"round {round_number + 1}: full sync {full_runs[-1].seconds:.2f}s, "
                  f"peak RSS {full_runs[-1].peak_rss_mb:.0f} MB")
        worker_runs: dict[int, Run] = {}
        for workers in [int(count) for count in args.workers.split(",") if count]:
            client.flushall()
            shutil.rmtree(work / "state", ignore_errors=True)
            worker_runs[workers] = run_measured(sync_command(project, AS_OF, "--full", "--workers", str(workers)), env)
            print(f"full sync with {workers} worker(s): {worker_runs[workers].seconds:.2f}s, "
                  f"peak RSS {worker_runs[workers].peak_rss_mb:.0f} MB (the parent's)")
        incremental_runs: dict[str, list[Run]] = {"appended": [], "reordered": []}
        for kind, runs in incremental_runs.items():
            for round_number in range(args.rounds):
                offset = sum(len(done) for done in incremental_runs.values())  # each round its own entities
                changed = change_entities(project, args.change_share, f"2026-11-20 12:{offset:02d}:00",
                                          offset=offset, reorder=kind == "reordered")
                runs.append(run_measured(sync_command(project, AS_OF), env))
                narrowed = runs[-1].output.count(NARROWED)
                print(f"round {round_number + 1}: incremental after {changed:,} changed entities per view, "
                      f"{kind}: {runs[-1].seconds:.2f}s ({narrowed} of {len(VIEWS)} views read from new row groups)")
        state_bytes = sum(path.stat().st_size for path in (work / "state").rglob("*") if path.is_file())
        verify = subprocess.run([sys.executable, "-m", "sync", "verify", "--project-dir", str(project),
                                 "--sample", "20000"], env=env, cwd=REPO, capture_output=True, text=True)
        if verify.returncode != 0:
            raise SystemExit(f"verify failed after the benchmark:\n{verify.stdout}{verify.stderr}")

    best_full = min(full_runs, key=lambda run: run.seconds)
    best_reference = min(reference_runs, key=lambda run: run.seconds)
    full_rate = entity_rows / best_full.seconds
    reference_rate = entity_rows / best_reference.seconds
    lines = [
        f"Command: `python -m bench.sync.bench_sync --entities {args.entities} --rounds {args.rounds}"
        f"{' --write-readme' if args.write_readme else ''}` ({args.entities:,} entities, {len(VIEWS)} views, "
        f"10 features, {args.rows_per_entity} history rows per entity and view; best of {args.rounds}).",
        "",
        "| measure | result |",
        "|---|---|",
        f"| full sync, `python -m sync --full` (whole process) | {best_full.seconds:.2f} s, "
        f"{full_rate:,.0f} entity-rows/s, peak RSS {best_full.peak_rss_mb:.0f} MB "
        f"(rounds {', '.join(f'{run.seconds:.2f}' for run in full_runs)} s) |",
        f"| reference: DuckDB latest rows, RESP in Python, `redis-cli --pipe` | {best_reference.seconds:.2f} s, "
        f"{reference_rate:,.0f} entity-rows/s (rounds {', '.join(f'{run.seconds:.2f}' for run in reference_runs)} s) |",
        f"| full sync rate / reference rate | {full_rate / reference_rate:.0%} |",
        *(incremental_row(kind, runs, best_full, f"{args.change_share:.0%}", changed)
          for kind, runs in incremental_runs.items()),
        statistics_row("best full sync", best_full),
        *(statistics_row(f"best incremental sync ({kind})", min(runs, key=lambda run: run.seconds))
          for kind, runs in incremental_runs.items()),
        f"| Redis memory per entity (`INFO memory`, 3 views, 10 features) | {memory_per_entity:,.0f} bytes |",
        f"| the sync's own state (snapshots and row groups' keys, after the rounds above) | "
        f"{state_bytes / 2**20:,.1f} MiB |",
        *(f"| full sync with `--workers {workers}` | {run.seconds:.2f} s, {entity_rows / run.seconds:,.0f} "
          f"entity-rows/s |" for workers, run in worker_runs.items()),
        "",
        "`verify --sample 20000` passed after the incremental syncs.",
    ]
    print("\n".join(lines))
    if args.write_readme:
        record_block("sync-benchmark", HEADING, "\n".join(lines))
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
