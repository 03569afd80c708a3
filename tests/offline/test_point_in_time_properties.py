"""Property-based: on random histories and spines, both implementations equal the brute-force reference.

The join is rendered from the manifest once per implementation (the `joins` fixture); each
example only writes small Parquet files and runs the SQL in DuckDB. Timestamps sit
on a half-hour grid plus a few points around one day and two weeks, so equal
timestamps and exact ttl boundaries come up often.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.offline.pit_fixture import IMPLEMENTATIONS, T0, CaseRunner, expected, spine_row

SECOND = timedelta(seconds=1)
_GRID = [T0 + timedelta(minutes=30 * k) for k in range(-4, 13)]
_FAR = [T0 + timedelta(days=d) - shift for d in (-15, -14, -1, 1, 14) for shift in (timedelta(0), SECOND)]
_LOADED_MOMENTS = [T0 - timedelta(days=1) - SECOND, T0 - timedelta(days=1), T0, T0 + timedelta(minutes=30)]
moments = st.sampled_from(_GRID + _FAR)
users = st.integers(1, 3)
titles = st.integers(1, 2)
ints = st.one_of(st.none(), st.integers(-3, 3))


def _rows(columns, fields, unique):
    return st.lists(st.tuples(*fields), max_size=10, unique_by=unique).map(
        lambda rows: [dict(zip(columns, row, strict=True)) for row in rows]
    )


histories = st.fixed_dictionaries({
    "plain_view": _rows(("user_id", "event_timestamp", "plain_value", "plain_label"),
                        (users, moments, ints, st.sampled_from([None, "a", "b"])), lambda r: r[:2]),
    "hourly_view": _rows(("user_id", "observed_at", "hourly_value"),
                         (users, moments, st.one_of(st.none(), st.integers(-8, 8).map(lambda n: n / 4))),
                         lambda r: r[:2]),
    # Groups of rows that share a user and an event timestamp and differ in load time (or lack one).
    "loaded_view": st.lists(
        st.tuples(st.integers(1, 2), st.sampled_from(_LOADED_MOMENTS),
                  st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 2)),
                                     st.one_of(st.none(), st.integers(-50, 50))),
                           min_size=1, max_size=3, unique_by=(lambda load: load[0], lambda load: load[1]))),
        max_size=5, unique_by=lambda group: group[:2],
    ).map(lambda groups: [
        {"user_id": user, "event_timestamp": moment, "loaded_value": value,
         "loaded_at": None if delay is None else moment + delay * SECOND}
        for user, moment, loads in groups for delay, value in loads
    ]),
    "title_view": _rows(("user_id", "title_id", "event_timestamp", "title_affinity"),
                        (users, titles, moments, ints), lambda r: r[:3]),
})
spines = st.lists(
    st.builds(spine_row,
              st.one_of(st.integers(0, 3), st.none()),
              st.one_of(moments, st.sampled_from(_LOADED_MOMENTS), st.none()),
              st.integers(0, 1),
              st.one_of(titles, st.none())),
    max_size=12,
)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(views=histories, spine=spines)
def test_join_equals_the_brute_force_reference(implementation, views, spine, joins, runner: CaseRunner):
    assert runner.run(joins[implementation], views, spine) == expected(views, spine)
