"""The retrieval service: features by entity id, read from the online store (Redis).

The API needs only Redis: the registry and each view's sync state are published
there by `python -m sync`, and the API reloads them when the sync publishes anew.
"""
