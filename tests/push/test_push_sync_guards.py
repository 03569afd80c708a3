"""The sync's own writes of a push-fed view: guarded like pushes, so a sync never undoes a push."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import redis

from feature_store.online.writes.resp import CommandSql
from feature_store.push.script import GUARDED_CLEAR_SCRIPT, GUARDED_ROW_SHA
from feature_store.registry.model import Feature, FeatureView
from sync.push_history import clear_outside_guarded

VIEW = FeatureView(name="v", entity="user", timestamp="ts", freshness=timedelta(hours=1),
                   ttl=None, owner="o", description="d", location="", checksum="",
                   features=(Feature("f", "string", "v"),))


def test_push_fed_views_render_the_guarded_script_for_every_row() -> None:
    pushed = CommandSql(dataclasses.replace(VIEW, push_log="/log"), "user:", "replace-sha").expression(
        "__id", "__op", "__ts")
    plain = CommandSql(VIEW, "user:", "replace-sha").expression("__id", "__op", "__ts")
    assert GUARDED_ROW_SHA in pushed and "'$4\r\nHSET" not in pushed
    assert GUARDED_ROW_SHA not in plain and "HSET" in plain


def test_an_entity_reached_by_a_push_is_not_cleared(redis_url: str, tmp_path: Path) -> None:
    client = redis.Redis.from_url(redis_url)
    view = dataclasses.replace(VIEW, push_log=str(tmp_path / "log"))
    for user in (1, 2, 3):
        client.hset(f"user:{user}", mapping={"_ts:v": "2026-01-01T00:00:00Z", "f": "old", "other": "kept"})
    landing = tmp_path / "log" / "landing"
    landing.mkdir(parents=True)
    (landing / "1.json").write_text(json.dumps([{"user_id": 2, "ts": "2026-01-02 00:00:00", "f": "new"}]))
    removed = clear_outside_guarded(client, view, ["user:1", "user:2"], ["_ts:v", "f"], "user_id", "user:")
    assert removed == 1
    assert client.hgetall("user:1") == {b"other": b"kept"}
    assert client.hget("user:2", "f") == b"old"
    # A push between the sync's read of `_ts` and its removal changes `_ts`: then nothing is removed.
    clear = client.register_script(GUARDED_CLEAR_SCRIPT)
    assert clear(keys=["user:3"], args=["_ts:v", "2025-12-31T00:00:00Z", "_ts:v", "f"]) == 0
    assert client.hget("user:3", "f") == b"old"
    assert clear(keys=["user:3"], args=["_ts:v", "2026-01-01T00:00:00Z", "_ts:v", "f"]) == 2
    client.close()


def test_the_guarded_row_script_compares_instants_not_text(redis_url: str) -> None:
    from feature_store.push.script import GUARDED_ROW_SCRIPT

    client = redis.Redis.from_url(redis_url)
    write = client.register_script(GUARDED_ROW_SCRIPT)
    assert write(keys=["user:9"], args=[0, "_ts:v", "2026-01-01T00:00:00.500000Z", "f", "later"]) == 1
    # "...:00Z" sorts after "...:00.5Z" as text, but is the earlier instant: refused.
    assert write(keys=["user:9"], args=[0, "_ts:v", "2026-01-01T00:00:00Z", "f", "earlier"]) == 0
    assert write(keys=["user:9"], args=[1, "f", "_ts:v", "2026-01-01T00:00:01Z"]) == 1  # newer, f became null
    assert client.hgetall("user:9") == {b"_ts:v": b"2026-01-01T00:00:01Z"}
    client.close()
