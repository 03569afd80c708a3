"""Hand-written cases of the point-in-time join, each run by both implementations (rendered from the manifest)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.offline.pit_fixture import IMPLEMENTATIONS, T0, CaseRunner, expected, spine_row

SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture(params=IMPLEMENTATIONS)
def join(request: pytest.FixtureRequest, joins, runner: CaseRunner):
    """Runs one case with one implementation and checks it against the reference."""
    compiled = joins[request.param]

    def run(views, spine):
        result = runner.run(compiled, views, spine)
        assert result == expected(views, spine)
        return result

    return run


def plain(user_id, moment, value, label=None):
    return {"user_id": user_id, "event_timestamp": moment, "plain_value": value, "plain_label": label}


def hourly(user_id, moment, value):
    return {"user_id": user_id, "observed_at": moment, "hourly_value": value}


def loaded(user_id, moment, loaded_at, value):
    return {"user_id": user_id, "event_timestamp": moment, "loaded_at": loaded_at, "loaded_value": value}


def titled(user_id, title_id, moment, value):
    return {"user_id": user_id, "title_id": title_id, "event_timestamp": moment, "title_affinity": value}


def test_feature_at_exactly_the_spine_timestamp_is_included(join):
    [row] = join({"plain_view": [plain(1, T0 - HOUR, 1), plain(1, T0, 2)]}, [spine_row(1, T0)])
    assert row["plain_value"] == 2
    assert row["plain_view__event_timestamp"] == T0


def test_feature_one_second_after_the_spine_is_excluded(join):
    views = {"plain_view": [plain(1, T0 - HOUR, 1), plain(1, T0 + SECOND, 2), plain(2, T0 + SECOND, 3)]}
    first, second = join(views, [spine_row(1, T0), spine_row(2, T0)])
    assert (first["plain_value"], first["plain_view__event_timestamp"]) == (1, T0 - HOUR)
    assert (second["plain_value"], second["plain_view__event_timestamp"]) == (None, None)


def test_row_exactly_one_ttl_old_is_included(join):
    [row] = join({"hourly_view": [hourly(1, T0 - HOUR, 0.5)]}, [spine_row(1, T0)])
    assert (row["hourly_value"], row["hourly_view__event_timestamp"]) == (0.5, T0 - HOUR)


def test_row_one_second_older_than_the_ttl_is_excluded(join):
    [row] = join({"hourly_view": [hourly(1, T0 - HOUR - SECOND, 0.5)]}, [spine_row(1, T0)])
    assert (row["hourly_value"], row["hourly_view__event_timestamp"]) == (None, None)


def test_expired_latest_row_hides_older_rows_too(join):
    views = {"hourly_view": [hourly(1, T0 - 3 * HOUR, 1.0), hourly(1, T0 - 2 * HOUR, 2.0)]}
    [row] = join(views, [spine_row(1, T0)])
    assert row["hourly_value"] is None


def test_entity_with_no_history_gets_nulls(join):
    views = {"plain_view": [plain(1, T0, 1)], "hourly_view": [hourly(1, T0, 1.0)],
             "loaded_view": [loaded(1, T0, T0, 1)], "title_view": [titled(1, 1, T0, 1)]}
    [row] = join(views, [spine_row(9, T0, label=7)])
    assert row == {**spine_row(9, T0, label=7), "plain_value": None, "plain_label": None,
                   "plain_view__event_timestamp": None, "hourly_value": None,
                   "hourly_view__event_timestamp": None, "loaded_value": None,
                   "loaded_view__event_timestamp": None, "title_affinity": None,
                   "title_view__event_timestamp": None}


def test_spine_entity_missing_from_one_view(join):
    views = {"plain_view": [plain(1, T0 - HOUR, 5, "a")], "hourly_view": [hourly(2, T0, 1.0)]}
    [row] = join(views, [spine_row(1, T0)])
    assert (row["plain_value"], row["plain_label"]) == (5, "a")
    assert row["hourly_value"] is None


def test_duplicate_spine_rows_each_appear_once_in_order(join):
    spine = [spine_row(1, T0, label=1), spine_row(2, T0, label=2), spine_row(1, T0, label=3),
             spine_row(1, T0, label=1)]
    result = join({"plain_view": [plain(1, T0, 10), plain(2, T0, 20)]}, spine)
    assert [(r["user_id"], r["label"], r["plain_value"]) for r in result] == [(1, 1, 10), (2, 2, 20),
                                                                               (1, 3, 10), (1, 1, 10)]


def test_ties_broken_by_the_created_timestamp(join):
    views = {"loaded_view": [
        loaded(1, T0, T0 + 2 * SECOND, 2), loaded(1, T0, T0 + 5 * SECOND, 5), loaded(1, T0, T0 + SECOND, 1),
        loaded(2, T0, None, 0), loaded(2, T0, T0, 7),
    ]}
    first, second = join(views, [spine_row(1, T0 + HOUR), spine_row(2, T0)])
    assert first["loaded_value"] == 5
    assert second["loaded_value"] == 7  # a NULL created timestamp loses the tie


def test_created_timestamp_does_not_override_a_later_event(join):
    views = {"loaded_view": [loaded(1, T0 - HOUR, T0 + DAY, 1), loaded(1, T0, T0, 2)]}
    [row] = join(views, [spine_row(1, T0)])
    assert row["loaded_value"] == 2


def test_several_views_with_different_ttls_in_one_join(join):
    views = {
        "plain_view": [plain(1, T0 - 300 * DAY, 1)],  # no ttl: any age
        "hourly_view": [hourly(1, T0 - 2 * HOUR, 2.0)],  # 1h: expired
        "loaded_view": [loaded(1, T0 - 23 * HOUR, T0 - 23 * HOUR, 3)],  # 1d: valid
        "title_view": [titled(1, 1, T0 - 13 * DAY, 4)],  # 2w: valid
    }
    [row] = join(views, [spine_row(1, T0)])
    values = (row["plain_value"], row["hourly_value"], row["loaded_value"], row["title_affinity"])
    assert values == (1, None, 3, 4)


def test_spine_timestamps_before_any_feature_get_nulls(join):
    views = {"plain_view": [plain(1, T0, 1)], "loaded_view": [loaded(1, T0, T0, 1)]}
    [row] = join(views, [spine_row(1, T0 - 10 * DAY)])
    assert (row["plain_value"], row["loaded_value"]) == (None, None)


def test_a_null_feature_value_is_not_replaced_by_an_older_one(join):
    views = {"plain_view": [plain(1, T0 - HOUR, 1, "old"), plain(1, T0, None, None)]}
    [row] = join(views, [spine_row(1, T0)])
    assert (row["plain_value"], row["plain_label"], row["plain_view__event_timestamp"]) == (None, None, T0)


def test_composite_entity_joins_on_every_key(join):
    views = {"title_view": [titled(1, 1, T0, 11), titled(1, 2, T0, 12), titled(2, 1, T0, 21)]}
    spine = [spine_row(1, T0, title_id=2), spine_row(2, T0, title_id=2), spine_row(1, T0, title_id=None)]
    result = join(views, spine)
    assert [r["title_affinity"] for r in result] == [12, None, None]


def test_null_spine_keys_and_timestamps_match_nothing(join):
    spine = [spine_row(None, T0), spine_row(1, None), spine_row(1, T0)]
    result = join({"plain_view": [plain(1, T0, 1)]}, spine)
    assert [r["plain_value"] for r in result] == [None, None, 1]


def test_empty_spine_gives_an_empty_result(join):
    assert join({"plain_view": [plain(1, T0, 1)]}, []) == []


def test_spine_columns_pass_through_and_each_view_adds_its_timestamp(joins, runner):
    import pyarrow.parquet as pq

    runner.run(joins["duckdb"], {"plain_view": [plain(1, T0, 1)]}, [spine_row(1, T0)])
    schema = pq.read_schema(runner.last_output)
    assert schema.names == [
        "user_id", "title_id", "event_timestamp", "label",
        "plain_value", "plain_label", "plain_view__event_timestamp",
        "hourly_value", "hourly_view__event_timestamp",
        "loaded_value", "loaded_view__event_timestamp",
        "title_affinity", "title_view__event_timestamp",
    ]
    assert str(schema.field("label").type) == "int64"
    assert str(schema.field("hourly_value").type) == "double"
