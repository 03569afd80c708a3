"""A history that grows by appending is synced by reading only what its new row groups point at, exactly.

The view's Parquet is rewritten in row groups of a fixed size, ordered by key
as a table built in order would be, and each round changes it the way builds
do: rows appended (the last, partial row group re-chunked), a value changed in
the middle (twice), an entity's rows removed, rows reached by a later clock,
row groups reordered, and at last the whole file rewritten in another order. After
every round Redis is checked against the plain-Python reference, and the
summary line says whether the sync read only the new row groups' entities.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis

from feature_store.offline import history_layout
from feature_store.registry.manifest import load_registry
from sync.materialize import run_sync
from tests.conftest import BuiltProject
from tests.reference import assert_redis_holds_latest

VIEW = "user_watch_stats"
GROUP_ROWS = 4_000
NARROWED = "in new row groups"


def write(project: BuiltProject, rows: list[dict], schema: pa.Schema) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), project.parquet(VIEW), row_group_size=GROUP_ROWS)


def new_row(user: int, moment, rng: random.Random, count: int | None = None) -> dict:
    return {"user_id": user, "event_timestamp": moment,
            "watch_count_30d": rng.randint(0, 60) if count is None else count,
            "watch_minutes_30d": rng.randint(0, 5000),
            "avg_minutes_per_title_30d": None if rng.random() < 0.3 else rng.random() * 100}


def sync(project: BuiltProject, redis_url: str, as_of, workers: int) -> str:
    lines: list[str] = []
    run_sync(project.path, redis.Redis.from_url(redis_url), as_of, redis_url, select=VIEW, force=True,
             workers=workers, say=lines.append)
    return next(line for line in lines if line.startswith(f"{VIEW}:"))


@pytest.mark.parametrize("workers", [1, 3], ids=["one-worker", "three-workers"])
def test_appended_histories_sync_exactly_from_their_new_row_groups(project, redis_url, workers) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    rng = random.Random(11)
    table = pq.read_table(project.parquet(VIEW))
    schema = table.schema
    rows = sorted(table.to_pylist(), key=lambda row: (row["user_id"], row["event_timestamp"]))
    assert len(rows) > 10 * GROUP_ROWS, "the demo history is too small to hold many row groups"
    users = sorted({row["user_id"] for row in rows})
    write(project, rows, schema)
    as_of = project.demo_now
    assert "full sync" in sync(project, redis_url, as_of, workers)
    assert_redis_holds_latest(project.path, VIEW, client, as_of)

    def round_(expect_narrowed: bool = True, expect_recomputed: int | None = None) -> None:
        summary = sync(project, redis_url, as_of, workers)
        assert "incremental sync" in summary, summary
        assert (NARROWED in summary) == expect_narrowed, summary
        if expect_recomputed is not None:
            assert f"({expect_recomputed:,} recomputed)" in summary, summary
        assert_redis_holds_latest(project.path, VIEW, client, as_of)

    now = as_of.replace(tzinfo=None)
    # Appended: new latest rows, nulls, new entities, and rows dated past the clock (reached next round).
    rows += [new_row(user, now - timedelta(minutes=rng.randint(1, 50)), rng) for user in rng.sample(users, 40)]
    rows += [new_row(user, now + timedelta(minutes=30), rng, count=999) for user in rng.sample(users, 5)]
    rows += [new_row(user, now - timedelta(minutes=2), rng) for user in (200_001, 200_002)]
    write(project, rows, schema)
    round_()

    # The clock moves on: rows in kept row groups that it reaches count now; the file is untouched.
    as_of += timedelta(hours=1)
    reached = {row["user_id"] for row in rows if now < row["event_timestamp"] <= now + timedelta(hours=1)}
    assert len(reached) >= 5
    round_(expect_recomputed=len(reached))

    # One value changed in the middle, plus an append. The first sync kept keys for the file's tail only,
    # so the row group that left has none: every row is read, once.
    middle = len(rows) // 2
    rows[middle] = {**rows[middle], "watch_count_30d": 12_345, "event_timestamp": now + timedelta(minutes=10)}
    rows.append(new_row(users[3], now - timedelta(minutes=3), rng))
    write(project, rows, schema)
    round_(expect_narrowed=False)

    # The same row changed again: its row group, new last time, kept its keys.
    rows[middle] = {**rows[middle], "watch_count_30d": 54_321}
    write(project, rows, schema)
    round_(expect_recomputed=1)

    # An entity whose rows are all in the tail removed: the row group that held it left; it leaves the view.
    leaving = 200_001
    rows = [row for row in rows if row["user_id"] != leaving]
    write(project, rows, schema)
    round_()
    assert not client.hexists(f"user:{leaving}", f"_ts:{VIEW}")

    # The same row groups in another order: nothing to read, nothing recomputed.
    table = pq.read_table(project.parquet(VIEW))
    groups = [table.slice(start, GROUP_ROWS) for start in range(0, table.num_rows, GROUP_ROWS)]
    rng.shuffle(groups)
    with pq.ParquetWriter(project.parquet(VIEW), table.schema) as writer:
        for group in groups:  # each its own row group, as it was
            writer.write_table(group, row_group_size=GROUP_ROWS)
    round_(expect_recomputed=0)

    # Rewritten in time order: every row group is new, so every row is read; still exact.
    rows.sort(key=lambda row: (row["event_timestamp"], row["user_id"]))
    rows.append(new_row(users[5], now - timedelta(minutes=4), rng))
    write(project, rows, schema)
    round_(expect_narrowed=False)


def test_a_history_replaced_while_read_is_not_recorded(project) -> None:
    """The layout a sync records must describe the bytes it read: a file replaced since is noticed."""
    registry = load_registry(project.path)
    view = registry.view(VIEW)
    layout = history_layout.read_layout(view, registry.entity(view.entity))
    assert layout.grouped and layout.unchanged_on_disk()
    table = pq.read_table(project.parquet(VIEW))
    pq.write_table(table, project.parquet(VIEW).with_suffix(".tmp"))
    project.parquet(VIEW).with_suffix(".tmp").replace(project.parquet(VIEW))
    assert not layout.unchanged_on_disk()


def test_row_group_digests_follow_bytes_and_definition(project) -> None:
    """Equal row groups digest alike wherever they sit; a changed value or key column changes the digest."""
    registry = load_registry(project.path)
    view = registry.view(VIEW)
    entity = registry.entity(view.entity)
    table = pq.read_table(project.parquet(VIEW)).slice(0, 3 * 100)
    pq.write_table(table, project.parquet(VIEW), row_group_size=100)
    first = history_layout.read_layout(view, entity).groups()
    reordered = pa.concat_tables([table.slice(200, 100), table.slice(0, 100), table.slice(100, 100)])
    pq.write_table(reordered, project.parquet(VIEW), row_group_size=100)
    assert sorted(g.digest for g in history_layout.read_layout(view, entity).groups()) == sorted(
        g.digest for g in first)
    changed = table.set_column(2, table.schema.field(2), pa.array([7] * 300, table.schema.field(2).type))
    pq.write_table(changed, project.parquet(VIEW), row_group_size=100)
    assert not {g.digest for g in first} & {g.digest for g in history_layout.read_layout(view, entity).groups()}


def test_a_folder_of_part_files_is_read_per_file(project, redis_url) -> None:
    """A history kept as part files (as Spark writes a table): a new part file is all that is read."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    rng = random.Random(5)
    table = pq.read_table(project.parquet(VIEW))
    rows = sorted(table.to_pylist(), key=lambda row: (row["user_id"], row["event_timestamp"]))
    folder = project.parquet(VIEW)
    folder.unlink()
    folder.mkdir()
    half = len(rows) // 2
    for index, part in enumerate((rows[:half], rows[half:])):
        pq.write_table(pa.Table.from_pylist(part, schema=table.schema), folder / f"part-{index}.parquet",
                       row_group_size=GROUP_ROWS)
    as_of = project.demo_now
    assert "full sync" in sync(project, redis_url, as_of, 1)
    now = as_of.replace(tzinfo=None)
    users = sorted({row["user_id"] for row in rows})
    added = [new_row(user, now - timedelta(minutes=rng.randint(1, 50)), rng) for user in rng.sample(users, 30)]
    pq.write_table(pa.Table.from_pylist(added, schema=table.schema), folder / "part-2.parquet")
    summary = sync(project, redis_url, as_of, 1)
    assert f"({len(added):,} in new row groups)" in summary, summary
    assert f"({len({row['user_id'] for row in added}):,} recomputed)" in summary, summary
    assert_redis_holds_latest(project.path, VIEW, client, as_of)
    # The first part file's last row group rewritten: read from that file's rows only, still exact.
    first = pq.read_table(folder / "part-0.parquet").to_pylist()
    first[-1] = {**first[-1], "watch_count_30d": 777, "event_timestamp": now - timedelta(seconds=5)}
    pq.write_table(pa.Table.from_pylist(first, schema=table.schema), folder / "part-0.parquet",
                   row_group_size=GROUP_ROWS)
    summary = sync(project, redis_url, as_of, 1)
    assert NARROWED in summary and "(1 recomputed)" in summary, summary
    assert_redis_holds_latest(project.path, VIEW, client, as_of)


def test_a_later_load_of_the_same_event_wins_when_appended(project, redis_url) -> None:
    """Appended rows that tie an entity's latest event, loaded later, replace it (the created-timestamp rule)."""
    view = "user_last_genre"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    path = project.parquet(view)
    table = pq.read_table(path)
    rows = sorted(table.to_pylist(), key=lambda row: (row["user_id"], row["event_timestamp"]))
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path, row_group_size=GROUP_ROWS)
    as_of = project.demo_now
    run_sync(project.path, redis.Redis.from_url(redis_url), as_of, redis_url, select=view, force=True,
             say=lambda _: None)
    latest: dict[int, dict] = {}
    for row in rows:
        if row["event_timestamp"] <= as_of.replace(tzinfo=None):
            latest[row["user_id"]] = row  # sorted by event time: the last one is the latest
    reloads = [{**latest[user], "loaded_at": latest[user]["loaded_at"] + timedelta(hours=1),
                "last_genre": "reloaded", "last_title_id": 1} for user in sorted(latest)[:20]]
    stale = [{**latest[user], "loaded_at": latest[user]["loaded_at"] - timedelta(hours=1),
              "last_genre": "older load"} for user in sorted(latest)[20:30]]
    pq.write_table(pa.Table.from_pylist(rows + reloads + stale, schema=table.schema), path,
                   row_group_size=GROUP_ROWS)
    lines: list[str] = []
    run_sync(project.path, redis.Redis.from_url(redis_url), as_of, redis_url, select=view, force=True,
             say=lines.append)
    summary = next(line for line in lines if line.startswith(f"{view}:"))
    assert NARROWED in summary and "(30 recomputed), 20 written" in summary, summary
    assert_redis_holds_latest(project.path, view, client, as_of)
    assert client.hget(f"user:{sorted(latest)[0]}", "last_genre") == "reloaded"


def test_a_history_with_a_filename_column_is_read_whole(project, redis_url) -> None:
    """DuckDB's row-number columns would clash with the history's own: such a history is never narrowed."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    table = pq.read_table(project.parquet(VIEW))
    table = table.append_column("filename", pa.array(["upstream.csv"] * table.num_rows))
    pq.write_table(table, project.parquet(VIEW), row_group_size=GROUP_ROWS)
    assert "full sync" in sync(project, redis_url, project.demo_now, 1)
    pq.write_table(table.slice(0, table.num_rows - 10), project.parquet(VIEW), row_group_size=GROUP_ROWS)
    summary = sync(project, redis_url, project.demo_now, 1)
    assert f"{table.num_rows - 10:,} history rows read" in summary, summary
    assert_redis_holds_latest(project.path, VIEW, client, project.demo_now)
