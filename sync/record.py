"""The sync's own record of what it last wrote, kept beside the project.

Per Redis target (URL without password, plus key prefix) a folder holds:
- `record.json`: the generation token last published into Redis, and per view
  its entity, features, model checksum, and whether its last sync completed;
- `<view>/`: fingerprints of what the last sync pushed for the view, the base
  the next sync diffs against: `base-*.parquet` files, and `delta-*.parquet`
  files that override them for the entities changed since the base was
  written (so a small change rewrites a small file, not the whole set);
  and `keys-*.parquet`, the keys of some of the history's row groups (see
  `group_keys`). The record keeps the row groups' digests (`history_layout`);
  `summary-*` files describe the base's feature values for the statistics
  (`population_statistics`), and go wherever the base goes.

The record is replaced atomically (write, fsync, rename). A Redis whose token
differs from the record lost or rolled back data, and gets a full sync; a view
whose last sync did not complete (killed) is rewritten in full.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from feature_store.online.client import describe
from feature_store.registry.model import FeatureView

RECORD_DIR_ENV = "FEATURE_STORE_STATE_DIR"
SUMMARY_PREFIX = "summary-"  # the base's statistics summary (sync.population_statistics), kept with the base


@dataclass
class ViewRecord:
    entity: str
    features: list[str]
    checksum: str = ""
    complete: bool = False
    last_sync_at: str = ""
    rows: int = 0
    changed: int = 0
    fingerprint_format: int = 0
    source_digest: str = ""  # of the Parquet history the last sync read (see history_layout)
    row_groups: list[list] = field(default_factory=list)  # its row groups (history_layout.RowGroup.to_json)

    @classmethod
    def for_view(cls, view: FeatureView, fingerprint_format: int = 0) -> ViewRecord:
        return cls(entity=view.entity, features=[f"{f.name}:{f.dtype}" for f in view.features],
                   checksum=view.checksum, fingerprint_format=fingerprint_format)

    def same_shape(self, view: FeatureView) -> bool:
        """Whether the kept fingerprints' columns still describe the view (same entity and features)."""
        return self.entity == view.entity and self.features == [f"{f.name}:{f.dtype}" for f in view.features]

    def feature_names(self) -> list[str]:
        return [spec.rsplit(":", 1)[0] for spec in self.features]


@dataclass
class SyncRecord:
    target: str
    generation: str = ""
    views: dict[str, ViewRecord] = field(default_factory=dict)


class RecordFolder:
    """Reads and writes the record and fingerprints of one Redis target."""

    def __init__(self, project_dir: Path, redis_url: str, prefix: str) -> None:
        target = f"{describe(redis_url)}|{prefix}"
        base = Path(os.environ.get(RECORD_DIR_ENV) or Path(project_dir) / "data" / "sync_state")
        self.folder = base / hashlib.sha256(target.encode()).hexdigest()[:16]
        self.target = target

    @property
    def record_path(self) -> Path:
        return self.folder / "record.json"

    def fingerprints_dir(self, view: str) -> Path:
        return self.folder / view

    def pending_dir(self, view: str) -> Path:
        return self.folder / f"{view}.next"

    def fingerprints(self, view: str) -> Fingerprints | None:
        """The committed fingerprints of a view, or None when there is none."""
        return Fingerprints.read(self.fingerprints_dir(view))

    def start_pending(self, view: str, keep_base: Fingerprints | None = None, keep_delta: bool = False) -> Path:
        """An empty folder for the next fingerprints; `keep_base`'s base (and with `keep_delta`, delta) files
        are linked in, not copied."""
        pending = self.pending_dir(view)
        shutil.rmtree(pending, ignore_errors=True)
        pending.mkdir(parents=True)
        kept = (*keep_base.base, *keep_base.summary, *(keep_base.delta if keep_delta else ())) if keep_base else ()
        for path in kept:
            os.link(path, pending / path.name)
        return pending

    def load(self) -> SyncRecord:
        try:
            data: dict[str, Any] = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return SyncRecord(self.target)
        views = {name: ViewRecord(**_renamed(spec)) for name, spec in data.get("views", {}).items()}
        return SyncRecord(self.target, data.get("generation", ""), views)

    def save(self, record: SyncRecord) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {"target": record.target, "generation": record.generation,
                "views": {name: asdict(view) for name, view in record.views.items()}}
        temporary = self.record_path.with_suffix(".tmp")
        with temporary.open("w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.record_path)

    def commit_fingerprints(self, view: str) -> None:
        """The pending fingerprints becomes the base of the next diff.

        Two renames, not one: a kill between them leaves the view's record
        incomplete (it is saved after this), so the next sync rewrites the view
        in full and never reads a half-swapped set of fingerprints.
        """
        current, retired = self.fingerprints_dir(view), self.folder / f"{view}.old"
        shutil.rmtree(retired, ignore_errors=True)
        if current.exists():
            os.replace(current, retired)
        os.replace(self.pending_dir(view), current)
        shutil.rmtree(retired, ignore_errors=True)

    def drop_fingerprints(self, view: str) -> None:
        for folder in (self.fingerprints_dir(view), self.pending_dir(view), self.folder / f"{view}.old"):
            shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Fingerprints:
    """A view's last pushed fingerprints: base files, and delta files that override them per entity."""

    base: tuple[Path, ...]
    delta: tuple[Path, ...] = ()
    summary: tuple[Path, ...] = ()  # the base's statistics summary, when written

    @classmethod
    def read(cls, folder: Path) -> Fingerprints | None:
        base = tuple(sorted(folder.glob("base-*.parquet")))
        if not base:
            return None
        return cls(base, tuple(sorted(folder.glob("delta-*.parquet"))),
                   tuple(sorted(path for path in folder.glob(f"{SUMMARY_PREFIX}*") if path.suffix != ".tmp")))

    def rows(self) -> tuple[int, int]:
        """Rows in the base files and in the delta files (from the Parquet footers, read once)."""
        return self._rows

    @cached_property
    def _rows(self) -> tuple[int, int]:
        def count(paths: tuple[Path, ...]) -> int:
            return sum(pq.ParquetFile(path).metadata.num_rows for path in paths)
        return count(self.base), count(self.delta)


def _renamed(spec: dict[str, Any]) -> dict[str, Any]:
    """A view's record as written before `snapshot_format` was named `fingerprint_format`."""
    if "snapshot_format" in spec:
        spec = {**spec, "fingerprint_format": spec.get("fingerprint_format", spec["snapshot_format"])}
        del spec["snapshot_format"]
    return spec
