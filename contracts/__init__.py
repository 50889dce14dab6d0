"""The OpenAPI contracts, shipped as package data of `mocks` (`mocks.contracts`); read them with importlib.resources."""
