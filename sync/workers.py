"""Running a view's sync as N shares at once: `python -m sync --workers N`.

Each worker is a separate process (spawned, so nothing of the parent's DuckDB
or sockets is shared) with its own DuckDB connection and Redis connection; it
syncs the entities whose key hashes into its share (see `offline.KeyShare`).
Shares split by key, and one entity's fields of one view are one hash, so the
result is the same as one worker's, whatever N. Progress comes back over a
queue so the parent shows one bar per view.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

from feature_store.errors import FeatureStoreError
from feature_store.offline.history import KeyShare
from sync.view_sync import ShareJob, ShareResult

PR_SET_PDEATHSIG = 1
_worker: dict[str, Any] = {}


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a killed sync: its late writes could land after the next sync's."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _start_worker(redis_url: str, prefix: str, pipeline_rows: int, messages: Any, parent: int) -> None:
    _die_with_parent(parent)
    from feature_store.offline import connection as duckdb_connection
    from feature_store.online.client import connect
    from feature_store.online.writes.writer import OnlineWriter

    _worker["writer"] = OnlineWriter(connect(redis_url), prefix, pipeline_rows)
    _worker["connection"] = duckdb_connection.connect()
    _worker["messages"] = messages


def _run_share(job: ShareJob) -> ShareResult:
    from sync.view_sync import sync_share

    messages = _worker["messages"]
    return sync_share(job, _worker["writer"], _worker["connection"],
                      on_progress=lambda rows: messages.put(("rows", rows)),
                      on_staged=lambda entities: messages.put(("staged", entities)))


class WorkerPool:
    """N worker processes, started once per sync and reused for every view."""

    def __init__(self, count: int, redis_url: str, prefix: str, pipeline_rows: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.count = count
        self.messages = context.Queue()
        self.executor = ProcessPoolExecutor(count, mp_context=context, initializer=_start_worker,
                                            initargs=(redis_url, prefix, pipeline_rows, self.messages, os.getpid()))

    def run(
        self,
        job: ShareJob,
        on_progress: Callable[[int], None],
        on_staged: Callable[[int | None], None],
    ) -> list[ShareResult]:
        """Run the job's view as `count` shares; relays progress while they run."""
        futures: list[Future[ShareResult]] = [
            self.executor.submit(_run_share, replace(job, share=KeyShare(index, self.count)))
            for index in range(self.count)
        ]
        staged: list[int | None] = []
        try:
            while not all(future.done() for future in futures) or not self.messages.empty():
                try:
                    kind, value = self.messages.get(timeout=0.1)
                except queue.Empty:
                    continue
                if kind == "rows":
                    on_progress(value)
                else:
                    staged.append(value)
                    if len(staged) == self.count:
                        on_staged(None if None in staged else sum(count for count in staged if count is not None))
            return [future.result() for future in futures]
        except BrokenProcessPool as error:
            raise FeatureStoreError(
                f"a sync worker died while syncing {job.view.name} ({error}); nothing was published, and the "
                "next sync rewrites the view in full"
            ) from error
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.messages.close()
