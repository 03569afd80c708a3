"""The API's settings, read once from the environment into a frozen dataclass."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feature_store import clock
from feature_store.errors import FeatureStoreError
from feature_store.online.client import REDIS_URL_ENV, YES, cluster_setting
from feature_store.online.keys import PREFIX_ENV

MAX_BATCH_IDS_ENV = "API_MAX_BATCH_IDS"
MAX_BODY_BYTES_ENV = "API_MAX_BODY_BYTES"
MAX_PUSH_BODY_BYTES_ENV = "API_MAX_PUSH_BODY_BYTES"
REDIS_TIMEOUT_ENV = "API_REDIS_TIMEOUT_SECONDS"
REDIS_MAX_CONNECTIONS_ENV = "API_REDIS_MAX_CONNECTIONS"
API_KEY_ENV = "API_KEY"
CORS_ORIGINS_ENV = "API_CORS_ORIGINS"
ACCESS_LOG_ENV = "API_ACCESS_LOG"
OPENTELEMETRY_ENV = "API_OPENTELEMETRY"


class SettingsError(FeatureStoreError):
    """An environment variable holds a value the API cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to start; `redis_url=None` means the project's embedded server."""

    redis_url: str | None = None
    redis_cluster: bool | None = None  # None: ask the server (`INFO cluster`) at start
    key_prefix: str = ""
    as_of: str | None = None
    max_batch_ids: int = 1000
    max_body_bytes: int = 1 << 20
    max_push_body_bytes: int = 64 << 20  # a push of many thousand rows is one request
    redis_timeout_seconds: float = 1.0
    redis_max_connections: int = 64
    fast_path: bool = True  # off: the FastAPI routes serve the feature endpoints too (same answers)
    # Set: every endpoint but /health wants `Authorization: Bearer <key>`. Kept out of repr() and logs.
    api_key: str | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = ()  # empty: no CORS headers, so browsers on other origins are refused
    access_log: bool = False  # one JSON line per request on the `api.access` logger
    # FastAPI's native OpenTelemetry; off, it skips a per-request provider check that costs more than the
    # request's own metrics (Prometheus metrics are always on, at /metrics).
    opentelemetry: bool = False

    def __post_init__(self) -> None:
        if self.as_of is not None:
            try:
                clock.parse_timestamp(self.as_of)
            except ValueError as error:
                raise SettingsError(f"{clock.AS_OF_ENV} / --as-of: {error}") from error
        for name in ("max_batch_ids", "max_body_bytes", "max_push_body_bytes", "redis_max_connections"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.redis_timeout_seconds <= 0:
            raise SettingsError(f"redis_timeout_seconds must be positive, not {self.redis_timeout_seconds}")
        if self.api_key is not None and (not self.api_key.strip() or any(c.isspace() for c in self.api_key)):
            raise SettingsError(f"{API_KEY_ENV} must be a token without spaces (or unset to turn the key off)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from environment variables; keyword overrides (e.g. from the CLI) win."""
        env = os.environ if environ is None else environ
        try:
            cluster = cluster_setting(env)
        except ValueError as error:
            raise SettingsError(str(error)) from error
        values: dict[str, Any] = {
            "redis_url": env.get(REDIS_URL_ENV) or None,
            "redis_cluster": cluster,
            "key_prefix": env.get(PREFIX_ENV, ""),
            "as_of": env.get(clock.AS_OF_ENV) or None,
            "max_batch_ids": _number(env, MAX_BATCH_IDS_ENV, int, cls.max_batch_ids),
            "max_body_bytes": _number(env, MAX_BODY_BYTES_ENV, int, cls.max_body_bytes),
            "max_push_body_bytes": _number(env, MAX_PUSH_BODY_BYTES_ENV, int, cls.max_push_body_bytes),
            "redis_timeout_seconds": _number(env, REDIS_TIMEOUT_ENV, float, cls.redis_timeout_seconds),
            "redis_max_connections": _number(env, REDIS_MAX_CONNECTIONS_ENV, int, cls.redis_max_connections),
            "api_key": env.get(API_KEY_ENV) or None,
            "cors_origins": tuple(o.strip() for o in env.get(CORS_ORIGINS_ENV, "").split(",") if o.strip()),
            "access_log": _flag(env, ACCESS_LOG_ENV),
            "opentelemetry": _flag(env, OPENTELEMETRY_ENV),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def clock(self) -> Callable[[], datetime]:
        """The read clock: pinned when `as_of` is set (parsed once), else `feature_store.clock.now`."""
        if self.as_of is None:
            return clock.now
        pinned = clock.parse_timestamp(self.as_of)
        return lambda: pinned


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in YES


def _number(env: Mapping[str, str], name: str, kind: type, default: Any) -> Any:
    text = env.get(name)
    if not text:
        return default
    try:
        return kind(text)
    except ValueError as error:
        raise SettingsError(f"{name}={text!r} is not a valid {kind.__name__}") from error
