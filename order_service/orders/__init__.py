"""Orders: the request models and the order book (a simulated broker, no real exchange)."""
