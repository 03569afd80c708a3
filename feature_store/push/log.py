"""The push log's landing files: what a push writes before it is acknowledged.

Each accepted batch becomes one JSON file (an array of row objects) in `<log>/landing/`, written under a
temporary name, fsynced, renamed into place and the folder fsynced: once `append` returns, the rows
survive a crash of the process or the machine, and no reader ever sees a half-written file (readers
take `*.json`; the temporary name ends in `.tmp`). Names are unique per process and call (time,
pid, a counter, random bits), so any number of API workers append to one log without clashing.

Landing files are JSON, not Parquet, so that the serving process needs neither pyarrow nor DuckDB
(and a one-row push costs one small write). `feature_store.offline.push_log` compacts them into
Parquet; the view's dbt model reads both.
"""

from __future__ import annotations

import itertools
import os
import secrets
import time
from pathlib import Path

LANDING = "landing"
LANDING_SUFFIX = ".json"
PARQUET_SUFFIX = ".parquet"
TEMPORARY_SUFFIX = ".tmp"

_sequence = itertools.count()


def landing_dir(log: str | Path) -> Path:
    return Path(log) / LANDING


def landing_files(log: str | Path) -> list[Path]:
    """The complete landing files, oldest name first."""
    folder = landing_dir(log)
    return sorted(folder.glob(f"*{LANDING_SUFFIX}")) if folder.is_dir() else []


def parquet_files(log: str | Path) -> list[Path]:
    folder = Path(log)
    return sorted(folder.glob(f"*{PARQUET_SUFFIX}")) if folder.is_dir() else []


def unique_name(suffix: str) -> str:
    """Sortable by time, unique across processes and calls."""
    return f"{time.time_ns():020d}-{os.getpid()}-{next(_sequence):08d}-{secrets.token_hex(4)}{suffix}"


def append(log: str | Path, document: bytes) -> Path:
    """Write `document` (a batch's JSON) as one new landing file, durably; returns its path."""
    folder = landing_dir(log)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / unique_name(LANDING_SUFFIX)
    write_durably(final, document)
    return final


def write_durably(path: Path, data: bytes) -> None:
    """`data` at `path`, all or nothing, on disk before returning."""
    temporary = path.with_name(path.name + TEMPORARY_SUFFIX)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.rename(temporary, path)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so the names created or removed in it are durable too."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
