"""Pushes write through the single-node pipe; a Redis Cluster is not supported for pushes yet."""

from __future__ import annotations

from api.core.errors import ApiError
from feature_store.online.reader.cluster_pipe import ClusterPipe
from feature_store.online.reader.pipe import RedisPipe


class PushUnsupported(ApiError):
    status_code = 501
    code = "push_unsupported"


def require_single_node(pipe: RedisPipe | ClusterPipe) -> RedisPipe:
    if isinstance(pipe, ClusterPipe):
        raise PushUnsupported("pushes are written to a single Redis node; on a Redis Cluster, push through "
                              "`python -m sync stream` or sync from the push log after a build")
    return pipe
