"""Progress of long writes: a live bar on a terminal, plain lines elsewhere (logs, cron, CI)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

PLAIN_INTERVAL_SECONDS = 10.0
BAR_INTERVAL_SECONDS = 0.2
BAR_WIDTH = 30


class Progress:
    def __init__(self, label: str, total: int | None, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.done = 0
        self.started = time.perf_counter()
        self.last_shown = self.started

    def set_total(self, total: int | None) -> None:
        self.total = total

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.perf_counter()
        if now - self.last_shown >= (BAR_INTERVAL_SECONDS if self.live else PLAIN_INTERVAL_SECONDS):
            self.last_shown = now
            self._show(now)

    def _show(self, now: float) -> None:
        rate = self.done / max(now - self.started, 1e-9)
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * BAR_WIDTH)
            text = f"{self.label}: [{bar:<{BAR_WIDTH}}] {self.done:,}/{self.total:,} rows, {rate:,.0f} rows/s"
        else:
            text = f"{self.label}: {self.done:,} rows, {rate:,.0f} rows/s"
        if self.live:
            self.stream.write("\r\033[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live and self.done:
            self.stream.write("\r\033[K")
            self.stream.flush()
