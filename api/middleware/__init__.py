"""ASGI middleware: the fast path of the hot endpoints, metrics and logs, the API key, request ids."""
