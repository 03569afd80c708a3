"""The project's own redis-server, single node or a cluster, for development and tests."""
