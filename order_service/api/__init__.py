"""The order service's HTTP API: the app, placement, health."""
