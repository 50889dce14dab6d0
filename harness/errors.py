"""The harness's errors, one root.

    HarnessError
    ├── NotReady            a server never became ready (it exited, or time ran out)
    ├── JournalAssertion    a mock's journal does not show what a test expected
    ├── MockFailed          a mock failed inside while serving the test (its error is the cause)
    ├── RedisUnavailable    no source gave a real Redis (the message has each one's reason)
    └── UsageError          a bad argument: unknown provider, missing pact, a URL without a host

`NotReady`, `JournalAssertion` and `MockFailed` are also `AssertionError`s, so pytest shows them as test
failures with their message, not as errors in the harness.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of the harness's own errors."""


class NotReady(HarnessError, AssertionError):
    """A process never became ready: it exited, or the deadline passed (the message says which)."""


class JournalAssertion(HarnessError, AssertionError):
    """What a mock received differs from what the test expected; the message lists what it did receive."""


class MockFailed(HarnessError, AssertionError):
    """A mock raised while serving a request of the test (answered 500); `__cause__` is its error."""


class RedisUnavailable(HarnessError):
    """No source could give a real Redis; the message says why each could not."""


class UsageError(HarnessError, ValueError):
    """An argument the harness cannot work with; the message names it."""
