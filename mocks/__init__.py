"""Contract-driven mock servers: one engine builds a mock from any OpenAPI contract."""
