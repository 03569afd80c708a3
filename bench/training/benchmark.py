"""Benchmark the ad-hoc training set side by side with a hand-written DuckDB join and with Feast.

In one run, each in a fresh process (so its peak RSS is its own), interleaved per round:
- reference: chained DuckDB `ASOF LEFT JOIN`s of the spine to each view's Parquet file, the ttl
  applied to the matched row and a created timestamp's ties removed first, into a Parquet file;
- `python -m sync training-set`, first run in a fresh copy of the project (its dbt files and
  manifest; the data shared), and run again in the same copy: Python start-up, the macro
  rendered from the manifest, the join in the spine's order into a Parquet file;
- Feast's DuckDB offline store, `get_historical_features(...).to_df()` over the same files
  (bench/training/feast_run.py, in Feast's own virtualenv: `--feast-python`).
The join's own seconds (timed inside each process) stand beside the whole processes'. The
training sets are compared row for row: the command's (both implementations) with the
reference's.

    python -m bench.training.generate
    python -m bench.training.benchmark --write-readme
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from bench.readme import README
from bench.training.generate import DEFAULT_OUT, REPOSITORY
from feature_store.offline.connection import connect, one_row
from feature_store.registry.manifest import load_registry
from feature_store.registry.model import Registry
from feature_store.sql import literal

WIDTH = 100  # the README's line width
HEADING = "## Training sets (point-in-time join)"
FEAST_PYTHON = REPOSITORY / ".feast-venv" / "bin" / "python"
DEFAULT_REPEAT = 3
DEFAULT_IMPLEMENTATIONS = ["duckdb", "portable"]
_JOIN_SECONDS = re.compile(r"\(the join ([0-9.]+)s;")


def run_measured(command: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS (MB) and stdout of one child process."""
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
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / 1e6, output


def reference_sql(registry: Registry, spine: Path) -> str:
    """The join as one would write it by hand for DuckDB: one ASOF LEFT JOIN per view."""
    columns, joins = ["spine.*"], []
    for index, view in enumerate(sorted(registry.views, key=lambda v: v.name)):
        alias = f"v{index}"
        keys = registry.entity(view.entity).join_keys
        source = f"read_parquet({literal(view.location)})"
        if view.created_timestamp:
            source = (f"(from {source} qualify row_number() over (partition by {', '.join(keys)}, {view.timestamp} "
                      f"order by {view.created_timestamp} desc) = 1)")
        fresh = (f"{alias}.{view.timestamp} >= spine.event_timestamp - to_seconds({int(view.ttl.total_seconds())})"
                 if view.ttl else None)
        for name, output in [*((f.name, f.name) for f in view.features),
                             (view.timestamp, f"{view.name}__event_timestamp")]:
            value = f"{alias}.{name}"
            columns.append(f"case when {fresh} then {value} end as {output}" if fresh else f"{value} as {output}")
        on = " and ".join([*(f"{alias}.{key} = spine.{key}" for key in keys),
                           f"spine.event_timestamp >= {alias}.{view.timestamp}"])
        joins.append(f"asof left join {source} as {alias} on {on}")
    return (f"select {', '.join(columns)}\nfrom read_parquet({literal(str(spine))}) as spine\n"
            + "\n".join(joins))


def reference_worker(job_path: str, threads: int | None) -> int:
    """The reference join in this process: print its seconds and rows as JSON."""
    job = json.loads(Path(job_path).read_text())
    connection = connect(threads, bounded=False)
    started = time.perf_counter()
    rows = one_row(connection.execute(f"copy ({job['sql']}) to {literal(job['out'])} (format parquet)"))[0]
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))
    return 0


@dataclass
class Measurement:
    """Repeated runs of one thing: wall seconds, the join's seconds, CPU seconds and peak RSS (MB) of each.

    CPU seconds (all threads, user + system) vary less than wall seconds when other work
    shares the machine.
    """

    what: str
    seconds: list[float] = field(default_factory=list)
    join: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)

    def add(self, seconds: float, join: float, cpu: float, rss: float) -> None:
        self.seconds.append(seconds)
        self.join.append(join)
        self.cpu.append(cpu)
        self.rss.append(rss)
        print(f"{self.what}: {seconds:.2f}s (join {join:.2f}s), CPU {cpu:.2f}s, peak RSS {rss:.0f} MB", flush=True)

    def median(self) -> float:
        return statistics.median(self.seconds)

    def row(self) -> str:
        low, high = min(self.seconds), max(self.seconds)
        spread = f" ({low:.2f}–{high:.2f})" if len(self.seconds) > 1 else ""
        return (f"| {self.what} | {self.median():.2f}{spread} | {statistics.median(self.join):.2f} "
                f"| {statistics.median(self.cpu):.2f} | {max(self.rss):,.0f} |")


REFERENCE = "chained DuckDB `ASOF LEFT JOIN`s → Parquet (the reference)"
FIRST = "`training-set`, first run in a fresh copy of the project"
AGAIN = "`training-set`, run again"
FEAST = "Feast 0.67, DuckDB offline store, `get_historical_features(...).to_df()`"


def fresh_copy(project: Path, folder: Path) -> Path:
    """The project's dbt files and manifest in a new folder, its data folder linked (it is read only)."""
    folder.mkdir(parents=True)
    for name in ("dbt_project.yml", "models", "macros", "profiles"):
        source = project / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, folder / name)
    (folder / "target").mkdir()
    shutil.copy2(project / "target" / "manifest.json", folder / "target" / "manifest.json")
    (folder / "data").symlink_to(project / "data")
    return folder


@dataclass
class Scale:
    """What one project's measurements describe."""

    project: Path
    spine_rows: int
    feature_rows: int
    entities: int
    views: int
    features: int
    repeat: int
    measurements: list[Measurement]
    identical: str


def measure(args: argparse.Namespace, project: Path, repeat: int, feast: bool, scratch: Path) -> Scale:
    scratch.mkdir(parents=True)
    registry = load_registry(project)
    views = sorted(registry.views, key=lambda v: v.name)
    features = [f.name for view in views for f in view.features]
    spine = project / "data" / "spine.parquet"
    spine_rows = pq.read_metadata(spine).num_rows
    feature_rows = sum(pq.read_metadata(view.location).num_rows for view in views)
    entities = one_row(duckdb.execute(
        f"select count(distinct user_id) from read_parquet({[view.location for view in views]})"
    ))[0]
    python = sys.executable
    threads = ["--threads", str(args.threads)] if args.threads else []
    found = {what: Measurement(what) for what in (REFERENCE, FIRST, AGAIN, *([FEAST] if feast else []))}
    reference_out = scratch / "reference.parquet"
    job = scratch / "reference.json"
    job.write_text(json.dumps({"sql": reference_sql(registry, spine), "out": str(reference_out)}))
    feast_job = scratch / "feast.json"
    feast_job.write_text(json.dumps({"spine": str(spine), "views": [
        {"name": view.name, "path": str(Path(view.location).resolve()), "created": view.created_timestamp,
         "ttl_seconds": int(view.ttl.total_seconds()) if view.ttl else None,
         "features": [f.name for f in view.features]} for view in views]}))
    outputs = {}
    for round_ in range(repeat):
        command = [python, "-m", "bench.training.benchmark", "--reference-worker", str(job), *threads]
        seconds, cpu, rss, output = run_measured(command, REPOSITORY)
        found[REFERENCE].add(seconds, json.loads(output)["seconds"], cpu, rss)
        copy = fresh_copy(project, scratch / f"project-{project.name}-{round_}")
        for implementation in args.implementations:
            out = scratch / f"{implementation}.parquet"
            command = [python, "-m", "sync", "training-set", "--project-dir", str(copy), "--spine", str(spine),
                       "--features", ",".join(features), "--out", str(out), "--implementation", implementation,
                       *threads]
            for what in (FIRST, AGAIN):
                seconds, cpu, rss, output = run_measured(command, REPOSITORY)
                match = _JOIN_SECONDS.search(output)
                key = what if implementation == "duckdb" else f"{what} (portable)"
                found.setdefault(key, Measurement(key)).add(seconds, float(match.group(1)) if match else 0.0,
                                                            cpu, rss)
            outputs[implementation] = out
        if feast:
            seconds, cpu, rss, output = run_measured([str(args.feast_python), str(REPOSITORY / "bench" / "training"
                                                                                  / "feast_run.py"), str(feast_job)],
                                                     REPOSITORY)
            found[FEAST].add(seconds, json.loads(output)["seconds"], cpu, rss)
    identical = "; ".join(f"{implementation}: {compare(reference_out, out)}" for implementation, out in outputs.items())
    return Scale(project, spine_rows, feature_rows, entities, len(views), len(features), repeat,
                 list(found.values()), identical)


def compare(first: Path, second: Path) -> str:
    """Whether two training sets hold the same rows (as multisets; the reference's order is its own)."""
    differ = one_row(duckdb.execute(
        f"select (select count(*) from (from '{first}' except all from '{second}'))"
        f" + (select count(*) from (from '{second}' except all from '{first}'))"
    ))[0]
    return "0 rows differ from the reference" if differ == 0 else f"{differ} ROWS DIFFER from the reference"


def targets(scale: Scale) -> list[str]:
    """The targets, against the medians measured."""
    medians = {m.what: m.median() for m in scale.measurements}
    peak = max(max(m.rss) for m in scale.measurements if m.what in (FIRST, AGAIN))
    reference = medians[REFERENCE]
    notes = []
    for what, limit in ((FIRST, 1.5), (AGAIN, 1.2)):
        ratio = medians[what] / reference
        notes.append(f"{what}: {ratio:.2f} × the reference (target at most {limit}), "
                     f"{'met' if ratio <= limit else 'missed'}.")
        if FEAST in medians:
            ratio = medians[what] / statistics.median(next(m for m in scale.measurements if m.what == FEAST).join)
            notes.append(f"{what}: {ratio:.2f} × Feast's `get_historical_features(...).to_df()` call alone "
                         f"(target at most 0.4), {'met' if ratio <= 0.4 else 'missed'}.")
    notes.append(f"Peak RSS of the command: {peak:,.0f} MB (target at 1M spine rows: at most 1,200 MB).")
    return notes


def benchmark(args: argparse.Namespace) -> str:
    projects = [path.resolve() for path in (args.project or [DEFAULT_OUT])]
    feast = args.feast_python.is_file()
    load = os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix="training_bench_"))
    try:
        scales = [measure(args, project, args.repeat if index == 0 else 1, feast and index == 0, scratch / str(index))
                  for index, project in enumerate(projects)]
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    paragraphs = [
        "A training set is a spine of labelled events joined point in time to feature views, by the "
        "`point_in_time_join` macro: in a dbt model (`models/training/`), or ad hoc with "
        "`python -m sync training-set --spine FILE --features a,b,c --out FILE`, which renders the macro from "
        "the manifest's macros (no dbt start) and streams DuckDB's join into the Parquet file within DuckDB's "
        "memory limit (`FEATURE_STORE_DUCKDB_MEMORY`, default 512MB), in the spine's order: one statement when "
        "the inputs (uncompressed, from the Parquet footers) fit in the limit; past it, the join on one thread "
        "into an unordered file, then the sort, each spilling to disk. The reference runs without a memory "
        "limit (DuckDB's default, 80% of RAM). The generator writes "
        "a dbt project of synthetic histories; the benchmark runs, side by side in one run and each in a fresh "
        "process, a hand-written chained-ASOF join (the reference), the command, and Feast's DuckDB offline "
        "store in its own virtualenv.",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} cores ({platform.machine()}), "
        f"DuckDB {version('duckdb')}, dbt-core {version('dbt-core')}, 3 views (no ttl; 90d; 30d with a created "
        f"timestamp and ties). Load average (other work on the machine) at the start: {load[0]:.2f}, at the "
        f"end: {load_after[0]:.2f}. Each figure: the median of the runs (min–max); *join*: the join's own "
        "seconds, timed inside the process (for Feast: the `get_historical_features(...).to_df()` call); CPU "
        "seconds (user + system, all threads) vary less than wall seconds when other work shares the "
        "machine; peak RSS is the largest of the runs.",
    ]
    command = "python -m bench.training.benchmark --write-readme"
    if args.repeat != DEFAULT_REPEAT:
        command += f" --repeat {args.repeat}"
    if args.implementations != DEFAULT_IMPLEMENTATIONS:
        command += f" --implementations {','.join(args.implementations)}"
    if args.threads:
        command += f" --threads {args.threads}"
    for path in args.project or []:
        command += f" --project {path}"
    lines = [HEADING, "", *(line for paragraph in paragraphs for line in [*textwrap.wrap(paragraph, WIDTH), ""])]
    lines += ["```", "python -m bench.training.generate",
              *(f"python -m bench.training.generate --spine-rows {s.spine_rows} --feature-rows {s.feature_rows} "
                f"--entities {s.entities} --out {s.project}" for s in scales[1:]),
              "make install-feast",
              command, "```", ""]
    for scale in scales:
        lines += [f"### {scale.spine_rows:,} spine rows, {scale.feature_rows:,} history rows", "",
                  *textwrap.wrap(f"{scale.entities:,} entities, {scale.views} views, {scale.features} features; "
                                 f"{scale.repeat} run(s) of each. Training sets: {scale.identical}.", WIDTH), "",
                  "| what | seconds | join seconds | CPU seconds | peak RSS (MB) |", "|---|---|---|---|---|",
                  *(m.row() for m in scale.measurements), "",
                  *(line for note in targets(scale)
                    for line in textwrap.wrap(note, WIDTH, initial_indent="- ", subsequent_indent="  ")), ""]
    lines += growth(scales)
    return "\n".join(lines).rstrip("\n") + "\n"


def growth(scales: list[Scale]) -> list[str]:
    """How the time and peak memory of each measured thing grow from the first scale to each larger one."""
    if len(scales) < 2:
        return []
    base = scales[0]
    lines = [f"### Growth from {base.spine_rows:,} spine rows", ""]
    for scale in scales[1:]:
        factor = scale.spine_rows / base.spine_rows
        for measurement in scale.measurements:
            before = next((m for m in base.measurements if m.what == measurement.what), None)
            if before is None:
                continue
            note = (f"{measurement.what}, {factor:.0f}× the rows: {measurement.median() / before.median():.1f}× "
                    f"the time ({before.median():.2f} s → {measurement.median():.2f} s), "
                    f"{max(measurement.rss) / max(before.rss):.1f}× the peak memory ({max(before.rss):,.0f} MB → "
                    f"{max(measurement.rss):,.0f} MB).")
            lines += textwrap.wrap(note, WIDTH, initial_indent="- ", subsequent_indent="  ")
    note = ("The reference holds what it joins in memory (DuckDB's default limit); the command keeps to its "
            "limit, and where its inputs outgrow it, it spills: the join on one thread, then the sort.")
    return [*lines, "", *textwrap.wrap(note, WIDTH), ""]


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
    parser.add_argument("--project", type=Path, action="append",
                        help=f"made by bench.training.generate (default {DEFAULT_OUT}); repeatable: the first is "
                             "run --repeat times and with Feast, later (larger) ones once, without Feast")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: one per core)")
    parser.add_argument("--implementations", type=lambda text: text.split(","), default=DEFAULT_IMPLEMENTATIONS)
    parser.add_argument("--feast-python", type=Path, default=FEAST_PYTHON,
                        help="the Python of a virtualenv with requirements-feast.txt "
                             "(`make install-feast`; skipped when missing)")
    parser.add_argument("--write-readme", action="store_true", help=f"record the figures in {README}")
    parser.add_argument("--reference-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference_worker:
        return reference_worker(args.reference_worker, args.threads)
    section = benchmark(args)
    print("\n" + section)
    if args.write_readme:
        write_readme(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
