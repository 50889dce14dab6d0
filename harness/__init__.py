"""The contract harness its users install: a pytest plugin, mock-server handles, a provider verifier, one CLI.

- `harness.plugin`: the pytest plugin (entry point `pytest11`), fixtures named `harness_*`.
- `harness.servers`: the mocks in-process or as real servers, and a handle per mock for its
  faults, outages and journal assertions.
- `harness.verify`: replays the packaged pacts (or any) against a running provider.
- `harness.cli`: the `harness` command (`mocks`, `verify-pacts`, `sign`, `scan`).

Errors: every error this package raises on purpose derives from `harness.errors.HarnessError`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("order-contract-harness")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
