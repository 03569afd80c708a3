"""Row groups: byte spans that hold every byte of a group (or none at all), and what changed between layouts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feature_store.offline.history_layout import FileLayout, HistoryLayout, RowGroup, _group_spans, compare


@dataclass
class Chunk:
    data_page_offset: int
    total_compressed_size: int
    dictionary_page_offset: int | None = None

    @property
    def has_dictionary_page(self) -> bool:
        return self.dictionary_page_offset is not None


@dataclass
class Group:
    chunks: list[Chunk]

    @property
    def num_columns(self) -> int:
        return len(self.chunks)

    def column(self, index: int) -> Chunk:
        return self.chunks[index]


@dataclass
class Footer:
    groups: list[Group]

    @property
    def num_row_groups(self) -> int:
        return len(self.groups)

    def row_group(self, index: int) -> Group:
        return self.groups[index]


def test_contiguous_groups_span_to_the_next_group() -> None:
    footer = Footer([Group([Chunk(4, 10), Chunk(20, 5, dictionary_page_offset=14)]), Group([Chunk(25, 30)])])
    assert _group_spans(footer, 100) == [(4, 25), (25, 55)]


def test_groups_listed_out_of_file_order_keep_their_own_spans() -> None:
    footer = Footer([Group([Chunk(40, 10)]), Group([Chunk(4, 36)])])
    assert _group_spans(footer, 100) == [(40, 50), (4, 40)]


def test_interleaved_or_unordered_chunks_give_no_spans() -> None:
    interleaved = Footer([Group([Chunk(4, 10), Chunk(30, 5)]), Group([Chunk(14, 10)])])
    assert _group_spans(interleaved, 100) is None
    same_start = Footer([Group([Chunk(4, 10)]), Group([Chunk(4, 10)])])
    assert _group_spans(same_start, 100) is None
    before_magic = Footer([Group([Chunk(0, 10)])])
    assert _group_spans(before_magic, 100) is None
    past_the_end = Footer([Group([Chunk(4, 200)])])
    assert _group_spans(past_the_end, 100) is None


def layout(*files: tuple[str, list[tuple[str, int]]]) -> HistoryLayout:
    return HistoryLayout("whole", tuple(
        FileLayout(path, tuple(RowGroup(d, rows) for d, rows in groups), (0, 0, 0), sum(r for _, r in groups))
        for path, groups in files), True)


BEFORE = datetime(2026, 11, 27, 12, tzinfo=UTC)
KEYS = {"c": Path("keys-c.parquet"), "a": Path("keys-a.parquet")}


def test_an_append_points_at_the_new_tail_and_the_tail_that_left() -> None:
    previous = [RowGroup("a", 100), RowGroup("b", 100), RowGroup("c", 40)]
    current = layout(("f", [("b", 100), ("a", 100), ("d", 60)]))
    change = compare(previous, BEFORE, current, BEFORE + timedelta(hours=1), KEYS.get)
    assert change is not None
    assert change.new_ranges == (("f", 200, 260),)
    assert change.gone_keys == ("keys-c.parquet",)
    assert change.reached_after == BEFORE and change.new_rows == 60


def test_row_groups_count_as_a_multiset_and_ranges_merge() -> None:
    previous = [RowGroup("a", 10), RowGroup("a", 10)]
    current = layout(("f", [("a", 10), ("x", 1), ("y", 1)]), ("g", [("a", 100)]))
    change = compare(previous, BEFORE, current, BEFORE, KEYS.get)
    assert change is not None
    assert change.new_ranges == (("f", 10, 12),)  # the second "a" (other rows) is in g: kept
    assert change.gone_keys == () and change.reached_after is None


def test_every_row_is_read_when_the_narrow_path_cannot_be_exact() -> None:
    previous = [RowGroup("a", 100), RowGroup("b", 100)]
    assert compare(previous, BEFORE, layout(("f", [("a", 100)])), BEFORE, KEYS.get) is None  # b left, no keys
    assert compare(previous, BEFORE, layout(("f", [("a", 100), ("b", 100)])), BEFORE - timedelta(1), KEYS.get) is None
    assert compare(previous, BEFORE, layout(("f", [("a", 100), ("b", 100), ("n", 80)])), BEFORE, KEYS.get) is None
    assert compare([], BEFORE, layout(("f", [("a", 100)])), BEFORE, KEYS.get) is None
