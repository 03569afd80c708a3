"""Request ids: the caller's `X-Request-ID` when it is a plain token, else a new one; one per request.

The id is echoed in the response header, written in the access log and in every
error logged while the request runs (a context variable), so a caller's report
leads to the log lines of its request.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar

HEADER = b"x-request-id"
VALID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")

current: ContextVar[str] = ContextVar("request_id", default="-")


def from_headers(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's id when it is 1-128 safe characters (never log lines or control bytes), else a new one."""
    for name, value in headers:
        if name == HEADER:
            if VALID.fullmatch(value):
                return value.decode("ascii")
            break
    return os.urandom(16).hex()  # 128 random bits, as a uuid4 has, at a third of its cost
