"""Redis key and field names, in one place so sync, verify and the API agree.

Entity hashes are `{prefix}{entity}:{id}`; a composite entity joins its key
values with `:` in its declared order. The store's own keys share the hash tag
`{_fs}` so a registry publish is one MULTI even on Redis Cluster; entity names
start with a letter, so they never collide with it.
"""

from __future__ import annotations

import os

PREFIX_ENV = "REDIS_KEY_PREFIX"
TIMESTAMP_FIELD_PREFIX = "_ts:"


def key_prefix() -> str:
    return os.environ.get(PREFIX_ENV, "")


def entity_key(prefix: str, entity: str, entity_id: str | tuple[str, ...]) -> str:
    parts = entity_id if isinstance(entity_id, tuple) else (entity_id,)
    return f"{prefix}{entity}:{':'.join(parts)}"


def timestamp_field(view: str) -> str:
    """The hash field holding the event timestamp of the row a view's values came from."""
    return f"{TIMESTAMP_FIELD_PREFIX}{view}"


def registry_key(prefix: str) -> str:
    return f"{prefix}{{_fs}}:registry"


def registry_version_key(prefix: str) -> str:
    """The generation token of the last publish: new every time (never reused, even after a
    flush), so readers notice a new registry in their usual round trip, and the sync notices a
    Redis that lost or rolled back data (its token differs from the sync's own record)."""
    return f"{prefix}{{_fs}}:version"


def sync_report_key(prefix: str, view: str) -> str:
    return f"{prefix}{{_fs}}:view:{view}"



def monitoring_key(prefix: str, view: str) -> str:
    """A view's kept statistics, drift and schema changes per sync (feature_store.monitoring), as JSON."""
    return f"{prefix}{{_fs}}:monitor:{view}"
