"""The stateful behaviours of the mocks, one module per service."""
