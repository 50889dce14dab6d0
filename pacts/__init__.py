"""The consumer pacts, shipped as package data of `harness` (`harness.pacts`); read them with importlib.resources."""
