"""Pipelined reads from Redis for the API: one round trip per request (one per node on a cluster)."""
