"""What the sync found about the data (feature_store.monitoring), as the API serves it: /monitor and gauges."""
