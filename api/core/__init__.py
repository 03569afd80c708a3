"""What every layer of the API uses: settings, errors, JSON responses, metrics."""
