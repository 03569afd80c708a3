"""The API's reader of the online store: the served registry (cached, refreshed on publish), id checks and reads."""
