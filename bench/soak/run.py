"""Soak test: the API under high-concurrency load for minutes while incremental syncs rewrite entities under it.

    python -m bench.soak.run [--entities 200000] [--seconds 180] [--connections 64] [--write-readme]

It generates a synthetic project (bench.soak.generate: every row carries its
version in every feature), starts its own redis-server, syncs it, and starts
`python -m api --workers 2` on a free loopback port. Then, for `--seconds`:
wrk (or, without wrk, bench.soak.client --load) drives single lookups and
batches; a checker process reads entities and counts rows that mix two versions;
a loop appends a new version for a share of entities and runs an incremental
`python -m sync`; the API workers' RSS is sampled from /proc. Everything stops
by itself; the report's pass conditions: zero errors, zero mixed rows, memory
flat (under 10% growth from the first sample under load to the last), and
`python -m sync verify` passing at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.commands import sync_command
from bench.readme import README, record_block
from bench.soak.generate import AS_OF, VIEWS, generate, new_version
from feature_store.online.embedded.server import EmbeddedRedis, free_port

REPO = Path(__file__).resolve().parents[2]
HEADING = "## Soak test"
LUA = Path(__file__).with_name("load.lua")
INITIAL_VERSIONS = 2


@dataclass
class Syncs:
    completed: int = 0
    failed: int = 0
    seconds: list[float] = field(default_factory=list)
    rows_changed: int = 0
    failures: list[str] = field(default_factory=list)



def run_checked(command: list[str], env: dict[str, str], timeout: float) -> None:
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the API exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the API was not ready within {timeout:.0f}s")


def worker_pids(master: int) -> list[int]:
    """The uvicorn workers: the master's children started by multiprocessing's spawn (not its resource tracker)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    pids = []
    for pid in map(int, children):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except OSError:
            continue
    return sorted(pids)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def sample_memory(master: int, stop: threading.Event, every: float, samples: list[tuple[float, dict[int, float]]],
                  started: float) -> None:
    """`(seconds since the load started, {worker pid: RSS MB})` every `every` seconds until stopped."""
    while not stop.is_set():
        sizes = {pid: size for pid in worker_pids(master) if (size := rss_mb(pid)) is not None}
        samples.append((time.monotonic() - started, sizes))
        stop.wait(every)


def sync_loop(project: Path, work: Path, entities: int, step: int, env: dict[str, str], deadline: float,
              syncs: Syncs) -> None:
    """New versions for a share of entities, then an incremental sync, until the deadline; never two at once."""
    version = INITIAL_VERSIONS
    while time.monotonic() < deadline:
        syncs.rows_changed += new_version(project, entities, version, step) * len(VIEWS)
        (work / "round").write_text(f"{version} {step}")
        started = time.perf_counter()
        result = subprocess.run(sync_command(project, AS_OF), env=env, cwd=REPO, capture_output=True, text=True,
                                timeout=600)
        if result.returncode == 0:
            syncs.completed += 1
            syncs.seconds.append(time.perf_counter() - started)
        else:
            syncs.failed += 1
            syncs.failures.append(result.stderr[-500:])
        version += 1


def start_load(url: str, args: argparse.Namespace, work: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    wrk = shutil.which("wrk")
    if wrk:
        command = [wrk, "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "5s", "-s", str(LUA),
                   url, "--", str(args.entities), "0.1", "50"]
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True), "wrk"
    command = [sys.executable, "-m", "bench.soak.client", "--url", url, "--entities", str(args.entities),
               "--seconds", str(args.seconds), "--work", str(work), "--concurrency", str(args.connections), "--load"]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True), "bench.soak.client --load"


def load_counts(process: subprocess.Popen, tool: str, timeout: float) -> dict:
    out, err = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise SystemExit(f"{tool} failed ({process.returncode}):\n{out[-2000:]}\n{err[-2000:]}")
    if tool == "wrk":
        line = next(line for line in out.splitlines() if line.startswith("SOAK "))
        counts = json.loads(line[5:])
        counts["errors"] = sum(counts[key] for key in ("non_2xx", "connect", "read", "write", "timeout"))
        return counts
    counts = json.loads(out.strip().splitlines()[-1])
    counts["errors"] = counts["socket_errors"] + sum(v for k, v in counts["statuses"].items() if k != "200")
    return counts


def memory_summary(samples: list[tuple[float, dict[int, float]]]) -> dict:
    """Total worker RSS at the first sample under load, the middle one and the last; the worker pids seen."""
    under_load = [(t, sizes) for t, sizes in samples if t >= 0 and sizes]
    totals = [(t, sum(sizes.values())) for t, sizes in under_load]
    start, middle, end = totals[0], totals[len(totals) // 2], totals[-1]
    pids = sorted({pid for _, sizes in under_load for pid in sizes})
    return {"idle": sum(samples[0][1].values()) if samples and samples[0][1] else None,
            "start": start, "middle": middle, "end": end, "peak": max(total for _, total in totals),
            "growth": end[1] / start[1] - 1, "pids": pids, "samples": len(totals)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--change-share", type=float, default=0.05, help="entities given a new version per sync")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary folder, removed after")
    parser.add_argument("--write-readme", action="store_true", help=f"record the results in {README}")
    args = parser.parse_args()

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="soak-"))
    project = work / "project"
    step = max(1, round(1 / args.change_share))
    started = time.perf_counter()
    generate(project, args.entities, INITIAL_VERSIONS)
    print(f"generated {len(VIEWS)} views x {args.entities:,} entities in {time.perf_counter() - started:.1f}s",
          flush=True)
    try:
        with EmbeddedRedis(work / "redis") as server:
            env = {**os.environ, "REDIS_URL": server.url, "FEATURE_STORE_STATE_DIR": str(work / "state")}
            started = time.perf_counter()
            run_checked(sync_command(project, AS_OF, "--full"), env, timeout=900)
            print(f"full sync in {time.perf_counter() - started:.1f}s", flush=True)
            report = soak(args, work, project, step, env)
            run_checked([sys.executable, "-m", "sync", "verify", "--project-dir", str(project), "--as-of", AS_OF,
                         "--sample", "20000"], env, timeout=900)
            report.append("`python -m sync verify --sample 20000` passed after the last sync (online = offline).")
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(report))
    if args.write_readme:
        record_block("soak-test", HEADING, "\n".join(report))


def soak(args: argparse.Namespace, work: Path, project: Path, step: int, env: dict[str, str]) -> list[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = subprocess.Popen([sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                            "--as-of", AS_OF, "--log-level", "warning"],
                           cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()
    samples: list[tuple[float, dict[int, float]]] = []
    try:
        wait_ready(url, api)
        time.sleep(1.0)
        samples.append((-1.0, {pid: rss_mb(pid) or 0.0 for pid in worker_pids(api.pid)}))  # idle, after startup
        load_started = time.monotonic()
        load, tool = start_load(url, args, work, env)
        checker = subprocess.Popen(
            [sys.executable, "-m", "bench.soak.client", "--url", url, "--entities", str(args.entities),
             "--seconds", str(args.seconds), "--work", str(work), "--concurrency", "4"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = threading.Thread(target=sample_memory, args=(api.pid, stop, args.sample_every, samples,
                                                                load_started), daemon=True)
        sampler.start()
        syncs = Syncs()
        sync_loop(project, work, args.entities, step, env, load_started + args.seconds, syncs)
        load_result = load_counts(load, tool, timeout=args.seconds + 120)
        check = load_counts(checker, "checker", timeout=args.seconds + 120)
        stop.set()
        sampler.join()
        elapsed = time.monotonic() - load_started
        restarted = api.poll() is not None
    finally:
        stop.set()
        api.send_signal(signal.SIGINT)
        try:
            _, api_err = api.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()
            _, api_err = api.communicate()
    memory = memory_summary(samples)
    return report_lines(args, tool, load_result, check, syncs, memory, elapsed, restarted, api_err)


def report_lines(args: argparse.Namespace, tool: str, load: dict, check: dict, syncs: Syncs, memory: dict,
                 elapsed: float, api_exited: bool, api_err: str) -> list[str]:
    total = load["requests"] + check["requests"]
    load_seconds = load.get("seconds") or float(args.seconds)
    errors = load["errors"] + check["errors"]
    flat = memory["growth"] < 0.10
    passed = errors == 0 and check["mixed_rows"] == 0 and flat and syncs.failed == 0 and not api_exited
    server_errors = api_err.count(" -> 5") + api_err.count("Traceback")
    sync_mean = sum(syncs.seconds) / len(syncs.seconds) if syncs.seconds else 0.0
    lines = [
        f"Command: `python -m bench.soak.run --entities {args.entities} --seconds {args.seconds} "
        f"--connections {args.connections}{' --write-readme' if args.write_readme else ''}` "
        f"({len(VIEWS)} views, 10 features; `python -m api --workers 2`; load by {tool}, 2 threads, "
        f"{args.connections} connections, 90% `GET /features/user/{{id}}`, 10% `POST /features/user` of 50 ids; "
        f"{args.change_share:.0%} of entities get a new version before each incremental sync).",
        "",
        "| measure | result |",
        "|---|---|",
        f"| requests answered (load + checker) | {total:,} in {load_seconds:.0f} s of load "
        f"({total / load_seconds:,.0f}/s); "
        f"load p50 {load.get('p50_ms', float('nan')):.1f} ms, p99 {load.get('p99_ms', float('nan')):.1f} ms |",
        f"| errors: non-2xx or socket errors (must be 0) | {errors} (load: {load['errors']}, checker: "
        f"{check['errors']}); 5xx or tracebacks in the API's log: {server_errors} |",
        f"| mixed rows: view rows read whose features or event time disagree on the version (must be 0) | "
        f"{check['mixed_rows']} of {check['rows_checked']:,} view rows checked |",
        f"| wall time of the soak phase (load, then the sync running at its end) | {elapsed:.0f} s |",
        f"| incremental syncs completed under load | {syncs.completed} ({syncs.failed} failed), "
        f"{sync_mean:.1f} s each on average, {syncs.rows_changed:,} entity-rows rewritten |",
        f"| API workers' RSS (both, MB): idle, first sample under load, middle, end | "
        f"{memory['idle']:.0f}, {memory['start'][1]:.0f} ({memory['start'][0]:.0f} s), "
        f"{memory['middle'][1]:.0f} ({memory['middle'][0]:.0f} s), {memory['end'][1]:.0f} ({memory['end'][0]:.0f} s); "
        f"peak {memory['peak']:.0f} |",
        f"| memory growth, first sample under load to end (flat: under 10%) | {memory['growth']:+.1%} "
        f"({'flat' if flat else 'GROWING'}; {memory['samples']} samples, worker pids {memory['pids']}) |",
        f"| result | {'PASS' if passed else 'FAIL'} |",
    ]
    if check["examples"]:
        lines += ["", "Mixed rows seen: " + " | ".join(check["examples"])]
    if syncs.failures:
        lines += ["", "Sync failures: " + " | ".join(syncs.failures[:3])]
    lines.append("")
    return lines


if __name__ == "__main__":
    main()
