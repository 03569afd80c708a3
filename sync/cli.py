"""`python -m sync`: materialize feature views into Redis, and the commands around it.

    python -m sync [--select NAME_OR_TAG] [--due] [--full] [--workers N] [--as-of ISO]   sync (the default)
    python -m sync status                                          per-view sync reports
    python -m sync verify [--sample N]                             online vs offline
    python -m sync monitor [--select NAME_OR_TAG]                  drift, null rates, schema changes (exit 1: a
                                                                   threshold crossed)
    python -m sync training-set --spine F --features a,b --out F   point-in-time training set
    python -m sync redis start|stop|status                         the embedded redis-server
    python -m sync stream [--stream KEY] [--group G]               push-fed views fed from a Redis Stream
    python -m sync compact                                         compact push-fed views' push logs
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

from feature_store import clock
from feature_store.errors import FeatureStoreError, RedisUnavailable
from feature_store.online.embedded.server import ensure_project_redis, running_project_redis, stop_project_redis
from feature_store.online.keys import key_prefix

SUBCOMMANDS = ("run", "status", "verify", "monitor", "training-set", "redis", "stream", "compact")


def _describe(url: str) -> str:
    from feature_store.online.client import describe

    return describe(url)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(),
                        help="the dbt project (default: the current folder)")
    parser.add_argument("--manifest", type=Path, default=None,
                        help="dbt manifest (default: PROJECT_DIR/target/manifest.json)")
    parser.add_argument("--as-of", default=None,
                        help=f"the clock, an ISO timestamp in UTC (default: ${clock.AS_OF_ENV} or now)")


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sync",
        description="Write each feature view's latest row per entity into Redis. "
                    f"Other commands: {', '.join(SUBCOMMANDS[1:])} (see `python -m sync COMMAND --help`).",
    )
    _common(parser)
    parser.add_argument("--select", default=None,
                        help="only the feature view with this name, or with this dbt tag")
    parser.add_argument("--due", action="store_true",
                        help="only the views whose last sync is at least their freshness ago")
    parser.add_argument("--retries", type=int, default=3,
                        help="times to retry the whole sync when Redis fails (default 3; waits double each time)")
    parser.add_argument("--retry-wait", type=float, default=1.0, help="seconds before the first retry (default 1)")
    parser.add_argument("--full", action="store_true",
                        help="rewrite every selected view instead of only what changed since the last sync")
    parser.add_argument("--force", action="store_true",
                        help="publish views whose latest dbt tests failed or are missing (with a warning)")
    parser.add_argument("--workers", type=_positive, default=1,
                        help="processes syncing each view in parallel, each a share of its entities by key hash "
                             "(default 1)")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _client(project_dir: Path):
    from feature_store.online.client import (  # not for training sets: redis is slow to import
        check_reachable,
        connect,
        redis_url,
    )

    url = redis_url(project_dir)
    client = connect(url)
    check_reachable(client, url)
    return client, url


def cmd_run(argv: list[str]) -> int:
    from sync.materialize import run_sync

    args = _run_parser().parse_args(argv)
    as_of = clock.now(args.as_of)
    attempts = max(args.retries, 0) + 1
    for attempt in range(1, attempts + 1):
        try:
            client, url = _client(args.project_dir)
            print(f"syncing into {_describe(url)} as of {as_of.isoformat()}", flush=True)
            run_sync(args.project_dir, client, as_of, redis_url=url, prefix=key_prefix(), select=args.select,
                     only_due=args.due, full=args.full, manifest_path=args.manifest, force=args.force,
                     workers=args.workers)
            return 0
        except KeyError as error:
            raise FeatureStoreError(str(error.args[0])) from error
        except RedisUnavailable as error:
            # A sync run again converges (an unfinished view is rewritten in full), so retrying is safe.
            if attempt == attempts:
                raise RedisUnavailable(f"{error} (gave up after {attempts} attempts)") from error
            wait = args.retry_wait * 2 ** (attempt - 1)
            print(f"Redis error: {error}; retrying in {wait:g}s (attempt {attempt + 1} of {attempts})",
                  file=sys.stderr, flush=True)
            time.sleep(wait)
    return 1


def cmd_status(argv: list[str]) -> int:
    from feature_store.online.writes.writer import read_sync_reports
    from feature_store.registry.freshness import is_stale
    from feature_store.registry.manifest import load_registry

    parser = argparse.ArgumentParser(prog="python -m sync status", description="Per-view sync state.")
    _common(parser)
    args = parser.parse_args(argv)
    now = clock.now(args.as_of)
    registry = load_registry(args.project_dir, args.manifest)
    client, url = _client(args.project_dir)
    reports = read_sync_reports(client, key_prefix(), (v.name for v in registry.views))
    print(f"Redis {_describe(url)}, now {now.isoformat()}")
    header = (f"{'view':<22} {'freshness':>9} {'ttl':>6} {'last sync':<28} {'age':>6} {'rows':>10} "
              f"{'changed':>9}  state")
    print(header)
    for view in registry.views:
        report = reports.get(view.name, {})
        last = report.get("last_sync_at")
        last_at = clock.parse_timestamp(last) if last else None
        age = _age(now - last_at) if last_at else "-"
        verdict = "never synced" if last_at is None else ("stale (due)" if is_stale(view, last_at, now) else (
            "due" if now - last_at >= view.freshness else "fresh"))
        ttl = _short(view.ttl) if view.ttl else "none"
        print(f"{view.name:<22} {_short(view.freshness):>9} {ttl:>6} {last or '-':<28} {age:>6} "
              f"{report.get('rows', '-'):>10} {report.get('changed', '-'):>9}  {verdict}")
    return 0


def _short(delta) -> str:
    from feature_store.registry.durations import format_duration

    return format_duration(delta)


def _age(delta) -> str:
    seconds = int(delta.total_seconds())
    if abs(seconds) < 120:
        return f"{seconds}s"
    if abs(seconds) < 7200:
        return f"{seconds // 60}m"
    if abs(seconds) < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def cmd_verify(argv: list[str]) -> int:
    from feature_store.registry.manifest import load_registry
    from sync.verify import verify

    parser = argparse.ArgumentParser(
        prog="python -m sync verify",
        description="Compare Redis with the offline latest rows; exit 1 on any difference.",
    )
    _common(parser)
    parser.add_argument("--sample", type=int, default=None, help="check N random entities per view")
    parser.add_argument("--select", default=None, help="only this view or tag")
    args = parser.parse_args(argv)
    registry = load_registry(args.project_dir, args.manifest)
    client, _ = _client(args.project_dir)
    as_of: datetime | None = clock.parse_timestamp(args.as_of) if args.as_of else None
    reports = verify(registry, client, key_prefix(), as_of=as_of, sample=args.sample,
                     views=registry.select(args.select))
    for report in reports:
        verdict = "ok" if report.ok else "DIFFERENT"
        print(f"{report.view}: {report.checked:,} checked, {report.mismatched} mismatched, "
              f"{report.missing} missing, {report.extra} extra: {verdict}")
        for example in report.examples:
            print(f"    {example}")
    return 0 if all(report.ok for report in reports) else 1


def cmd_monitor(argv: list[str]) -> int:
    """Each view's latest sync against its reference, as published in Redis: 1 when a threshold is crossed."""
    from feature_store.online.writes.writer import read_monitoring
    from feature_store.registry.manifest import load_registry
    from sync.monitor_report import report_lines

    parser = argparse.ArgumentParser(
        prog="python -m sync monitor",
        description="Per view and feature: null rate now and in the reference, drift (PSI) and verdict, and the "
                    "schema changes of the latest sync. Exit 1 when a threshold is crossed or the schema changed.",
    )
    _common(parser)
    parser.add_argument("--select", default=None, help="only this view or tag")
    args = parser.parse_args(argv)
    registry = load_registry(args.project_dir, args.manifest)
    views = registry.select(args.select)
    client, _ = _client(args.project_dir)
    kept = read_monitoring(client, key_prefix(), [view.name for view in views])
    lines, crossed = report_lines(views, kept)
    print("\n".join(lines))
    return 1 if crossed else 0


def cmd_redis(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync redis",
                                     description="Manage the project's embedded redis-server (.redis/).")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    if args.action == "start":
        print(ensure_project_redis(args.project_dir))
    elif args.action == "stop":
        print("stopped" if stop_project_redis(args.project_dir) else "not running")
    else:
        url = running_project_redis(args.project_dir)
        print(url or "not running")
        return 0 if url else 1
    return 0


def cmd_training_set(argv: list[str]) -> int:
    """`python -m sync training-set ...`: 0 on success, 1 when the training set cannot be built."""
    from feature_store.offline.training_compile import IMPLEMENTATIONS
    from feature_store.offline.training_set import write_training_set

    parser = argparse.ArgumentParser(
        prog="python -m sync training-set",
        description="Build a point-in-time correct training set from a spine file and a list of features.",
    )
    parser.add_argument("--spine", required=True, type=Path,
                        help="Parquet or CSV: entity key, event_timestamp, any columns to pass through")
    parser.add_argument("--features", required=True,
                        help="comma-separated feature names, e.g. user_segment,watch_count_30d,last_genre")
    parser.add_argument("--out", required=True, type=Path, help="the Parquet file to write")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(),
                        help="the dbt project, built (default: the current folder)")
    parser.add_argument("--spine-timestamp", default="event_timestamp",
                        help="the spine's timestamp column (default: event_timestamp)")
    parser.add_argument("--implementation", choices=IMPLEMENTATIONS, default=None,
                        help="force the join's implementation (default: DuckDB's own, the ASOF join)")
    parser.add_argument("--threads", type=int, default=None,
                        help="DuckDB threads (default: one per core; one for the join when its inputs "
                             "outgrow FEATURE_STORE_DUCKDB_MEMORY)")
    parser.add_argument("--recompile", action="store_true",
                        help="have dbt compile the join from the project's files as they are now (starts dbt), "
                             "instead of rendering the macros of its last parse (target/manifest.json)")
    args = parser.parse_args(argv)
    features = [name.strip() for name in args.features.split(",") if name.strip()]
    run = write_training_set(
        args.spine, features, args.out, project_dir=args.project_dir, implementation=args.implementation,
        spine_timestamp=args.spine_timestamp, threads=args.threads, recompile=args.recompile,
    )
    how = "compiled by dbt" if run.compiled else "rendered from the manifest"
    print(f"wrote {run.rows:,} rows x {run.columns} columns to {args.out} in {run.seconds:.2f}s "
          f"(the join {run.join_seconds:.2f}s; SQL {how})")
    return 0


def cmd_stream(argv: list[str]) -> int:
    from sync.stream import DEFAULT_GROUP, DEFAULT_STREAM, StreamConsumer

    parser = argparse.ArgumentParser(
        prog="python -m sync stream",
        description="Consume a Redis Stream of pushes (entries with `view` and `rows` fields) with a consumer "
                    "group: each entry's rows are kept in the view's push log and written to Redis, then acknowledged.",
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    parser.add_argument("--stream", default=DEFAULT_STREAM, help=f"the stream's key (default {DEFAULT_STREAM})")
    parser.add_argument("--group", default=DEFAULT_GROUP, help=f"the consumer group (default {DEFAULT_GROUP})")
    parser.add_argument("--consumer", default=None, help="this consumer's name in the group (default host-pid); "
                        "a restarted consumer of the same name first takes what it left unacknowledged")
    parser.add_argument("--batch", type=_positive, default=500, help="entries read at once (default 500)")
    parser.add_argument("--idle-exit", type=float, default=None,
                        help="stop after this many seconds without entries (default: run until interrupted)")
    parser.add_argument("--max-entries", type=_positive, default=None, help="stop after this many entries")
    args = parser.parse_args(argv)
    client, url = _client(args.project_dir)
    consumer = StreamConsumer(client, key_prefix(), args.stream, args.group, args.consumer, args.batch)
    print(f"consuming {args.stream} (group {args.group}, consumer {consumer.consumer}) from {_describe(url)}",
          flush=True)
    stats = consumer.run(idle_exit=args.idle_exit, max_entries=args.max_entries)
    print(f"{stats.entries:,} entries, {stats.rows:,} rows kept ({stats.applied:,} applied online), "
          f"{stats.rejected} rejected in {stats.seconds:.2f}s", flush=True)
    return 0


def cmd_compact(argv: list[str]) -> int:
    from feature_store.offline import connection as duckdb_connection
    from feature_store.offline import push_log
    from feature_store.registry.manifest import load_registry

    parser = argparse.ArgumentParser(prog="python -m sync compact",
                                     description="Compact the push logs of push-fed views into Parquet.")
    _common(parser)
    args = parser.parse_args(argv)
    registry = load_registry(args.project_dir, args.manifest)
    connection = duckdb_connection.connect()
    for view in registry.views:
        if view.takes_pushes:
            done = push_log.compact(connection, view, registry.entity(view.entity))
            print(f"{view.name}: {done.rows:,} rows of {done.landing_files:,} landing file(s) into Parquet, "
                  f"{done.merged_files} Parquet file(s) merged")
    return 0


COMMANDS = {"run": cmd_run, "status": cmd_status, "verify": cmd_verify, "monitor": cmd_monitor,
            "training-set": cmd_training_set, "redis": cmd_redis, "stream": cmd_stream, "compact": cmd_compact}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in SUBCOMMANDS else "run"
    try:
        return COMMANDS[command](argv)
    except FeatureStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
