"""Benchmark the training-set build: the DuckDB (ASOF) and the portable point-in-time join side by side.

Two measurements per implementation, each run in a fresh process so its peak RSS is its own:
- join: the SQL that dbt compiled from the macro, run by DuckDB over the Parquet
  histories and written to Parquet (the work of the training model), timed inside
  the process;
- whole run: `python -m sync training-set` end to end (Python and dbt start-up, the
  compile, the join, the Parquet file), first with no SQL kept from an earlier run,
  then again (the kept SQL starts the join while dbt compiles).
Both implementations' outputs are compared row for row.

    python -m bench.training.generate
    python -m bench.training.benchmark --write-readme
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from bench.training.generate import DEFAULT_OUT, REPOSITORY
from sync.registry import load_registry
from sync.training_compile import IMPLEMENTATIONS, Compiler, JoinRequest, default_cache_dir
from sync.training_set import connect, resolve_features, run_join

README = REPOSITORY / "bench" / "README.md"
HEADING = "## Training sets (point-in-time join)"


def run_measured(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of one child process."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DBT_")}
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout:
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        errors = child.stderr.read() if child.stderr else ""
        stdout.seek(0)
        output = stdout.read()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{errors[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, output


def worker(args: argparse.Namespace) -> int:
    """One join in this process: print its seconds and rows as JSON."""
    job = json.loads(Path(args.worker).read_text())
    from sync.training_compile import CompiledJoin

    compiled = CompiledJoin.from_sql(job["sql"])
    locations = {view: Path(path) for view, path in job["locations"].items()}
    connection = connect(args.threads)
    started = time.perf_counter()
    rows = run_join(compiled, locations, Path(job["spine"]), Path(job["out"]), connection=connection)
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))
    return 0


def summary(values: list[float], digits: int = 2) -> str:
    low, high = min(values), max(values)
    return f"{statistics.median(values):.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def benchmark(args: argparse.Namespace) -> str:
    project = args.project.resolve()
    registry = load_registry(project)
    features = [f.name for view in registry.views for f in view.features]
    selection = resolve_features(registry, features)
    locations = {view: registry.view(view).location for view, _ in selection}
    spine = project / "data" / "spine.parquet"
    spine_rows = pq.read_metadata(spine).num_rows
    feature_rows = sum(pq.read_metadata(path).num_rows for path in locations.values())
    entities = duckdb.execute(
        f"select count(distinct user_id) from read_parquet({[str(p) for p in locations.values()]})"
    ).fetchone()[0]  # type: ignore[index]
    load = os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix="training_bench_"))
    python = sys.executable
    rows: dict[str, dict[str, str]] = {}
    outputs: dict[str, Path] = {}
    try:
        compiler = Compiler(project)
        for implementation in args.implementations:
            request = JoinRequest(selection, implementation=implementation)
            compiled = compiler.compile(request, spine)
            job = scratch / f"{implementation}.json"
            job.write_text(json.dumps({"sql": compiled.sql, "locations": locations, "spine": str(spine),
                                       "out": str(scratch / f"{implementation}-join.parquet")}))
            joins, join_rss = [], []
            for _ in range(args.repeat):
                command = [python, "-m", "bench.training.benchmark", "--worker", str(job)]
                if args.threads:
                    command += ["--threads", str(args.threads)]
                _, rss, output = run_measured(command, REPOSITORY)
                joins.append(json.loads(output)["seconds"])
                join_rss.append(rss)
                print(f"{implementation}: join {joins[-1]:.2f}s, peak RSS {rss:.0f} MiB", flush=True)

            runs, run_rss = [], []
            out = scratch / f"{implementation}-adhoc.parquet"
            command = [python, "-m", "sync", "training-set", "--project-dir", str(project),
                       "--spine", str(spine), "--features", ",".join(features), "--out", str(out),
                       "--implementation", implementation]
            if args.threads:
                command += ["--threads", str(args.threads)]
            shutil.rmtree(default_cache_dir(project) / "compiled", ignore_errors=True)
            for attempt in range(args.repeat + 1):
                seconds, rss, _ = run_measured(command, REPOSITORY)
                runs.append(seconds)
                run_rss.append(rss)
                kind = "first (no kept SQL)" if attempt == 0 else "again"
                print(f"{implementation}: whole run, {kind}: {seconds:.2f}s, peak RSS {rss:.0f} MiB",
                      flush=True)
            outputs[implementation] = out
            rows[implementation] = {
                "join": summary(joins), "join_rss": f"{max(join_rss):.0f}",
                "first": f"{runs[0]:.2f}", "again": summary(runs[1:]), "run_rss": f"{max(run_rss):.0f}",
            }
        identical = "not compared"
        if len(outputs) == 2:
            first, second = (str(path) for path in outputs.values())
            differ = duckdb.execute(
                f"select (select count(*) from (from '{first}' except all from '{second}'))"
                f" + (select count(*) from (from '{second}' except all from '{first}'))"
            ).fetchone()[0]  # type: ignore[index]
            identical = "identical" if differ == 0 else f"DIFFERENT ({differ} rows)"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    command = "python -m bench.training.benchmark --write-readme"
    if args.repeat != 3:
        command += f" --repeat {args.repeat}"
    generate = "python -m bench.training.generate"
    if args.project.resolve() != DEFAULT_OUT.resolve():
        generate += f" --out {args.project}"
        command += f" --project {args.project}"
    lines = [
        HEADING,
        "",
        "A training set is a spine of labelled events joined point in time to feature views, by the "
        "`point_in_time_join` macro: in a dbt model (`models/training/`), or ad hoc with "
        "`python -m sync training-set --spine FILE --features a,b,c --out FILE`. The generator writes a "
        "dbt project of synthetic histories; the benchmark runs the compiled join and the whole command, "
        "for the DuckDB (ASOF) and the portable (window functions) implementation.",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} cores ({platform.machine()}), "
        f"DuckDB {version('duckdb')}, dbt-core {version('dbt-core')}: {spine_rows:,} spine rows against "
        f"{feature_rows:,} feature rows over {entities:,} entities in {len(selection)} views (no ttl; 90d; "
        f"30d with a created timestamp and ties), {len(features)} features. Load average at the start: "
        f"{load[0]:.2f}. Each figure: the median of {args.repeat} runs (min–max), each in a fresh process.",
        "",
        "```",
        generate,
        command,
        "```",
        "",
        "| implementation | join + Parquet write (s) | peak RSS (MiB) | whole `training-set` run, first (s) "
        "| whole run, again (s) | peak RSS (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    for implementation, row in rows.items():
        lines.append(f"| {implementation} | {row['join']} | {row['join_rss']} | {row['first']} "
                     f"| {row['again']} | {row['run_rss']} |")
    lines += [
        "",
        f"The two implementations' training sets: {identical}.",
        "",
        "- join: the SQL dbt compiled from `point_in_time_join`, run by DuckDB over the Parquet "
        "histories into a Parquet file, in spine order (what the ad-hoc path runs; a training model "
        "runs the same join).",
        "- whole run: `python -m sync training-set` end to end, Python and dbt start-up included. "
        "*first*: no SQL kept from an earlier run, so dbt compiles, then DuckDB joins. *again*: the SQL "
        "kept from the last run starts the join while dbt compiles, and stands because dbt compiles the "
        "same text.",
    ]
    return "\n".join(lines) + "\n"


def write_readme(section: str) -> None:
    """Replace this benchmark's section of bench/README.md (up to the next `## ` heading), or append it."""
    text = README.read_text() if README.is_file() else "# Benchmarks\n"
    start = text.find(HEADING)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    README.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=DEFAULT_OUT, help="made by bench.training.generate")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: one per core)")
    parser.add_argument("--implementations", type=lambda text: text.split(","),
                        default=list(IMPLEMENTATIONS))
    parser.add_argument("--write-readme", action="store_true", help=f"record the figures in {README}")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    section = benchmark(args)
    print("\n" + section)
    if args.write_readme:
        write_readme(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
