"""The algo-engine pact verified against the running reference order service, every request re-signed.

The pact's requests were signed when the consumer suite ran; replayed, their timestamps
are stale and their signatures seen. `verify_provider(..., signer=...)` (and `harness
verify-pacts --dev`) signs each one afresh with the provider's dev credentials, v1 or v2,
and mints a fresh dev user token for its account. The provider states make the open
orders the pact names: the state handler sets the order id sequence just below the id
and places the order, as a provider team owning the database would.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from harness.processes import stop_process, wait_until
from harness.resign import dev_user_tokens, signer_from_credentials
from harness.servers import free_port
from harness.verify import PACTS, verify_provider
from order_service.security.dev import DEV_CREDENTIALS, dev_signer, dev_user_token
from suites.fixtures.orders import LIMIT_ORDER
from suites.fixtures.redis import RealRedis
from suites.pact.algo_engine import CONSUMER, PROVIDER

pytestmark = [
    pytest.mark.live,
    pytest.mark.postgres,
    # pact-python's own state-callback server (pact._server) leaves a socket for the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"),
]
PINNED = "2026-11-26T11:00:00+05:30"  # the day the pact's order ids name (261126...)


class ReferenceService:
    """`python -m order_service serve --dev` on a database of its own, and the pact's provider states."""

    def __init__(self, url: str, database_url: str) -> None:
        self.url = url
        self.database_url = database_url

    def state(self, state: str, action: str, parameters: dict[str, Any] | None) -> None:
        """pact-python's state handler (it passes these by name)."""
        if action != "setup" or state != "an open LIMIT order of ZX1234":
            return  # "the user may trade for ZX1234": the dev token does
        order_id = str((parameters or {})["order_id"])
        was = asyncio.run(self._sequence(int(order_id[6:]) - 1))  # the next id is the one the pact names
        headers = {"authorization": f"Bearer {dev_user_token()}", "x-trading-account-id": "ZX1234"}
        placed = httpx.post(self.url + "/orders", json=LIMIT_ORDER, headers=headers, auth=dev_signer("algo_engine"))
        asyncio.run(self._sequence(max(was, int(order_id[6:]))))  # and never back: later orders get new ids
        assert placed.json()["order_id"] == order_id, placed.text

    async def _sequence(self, value: int) -> int:
        """Set the order id sequence to `value`; what it was."""
        connection = await asyncpg.connect(self.database_url)
        try:
            was = int(await connection.fetchval("SELECT last_value FROM order_service.order_number"))
            await connection.execute("SELECT setval('order_service.order_number', $1)", value)
            return was
        finally:
            await connection.close()


@pytest.fixture
def reference(database_url: str, real_redis: RealRedis, tmp_path: Path) -> Iterator[ReferenceService]:
    port = free_port()
    env = {
        **os.environ,
        "ORDER_SERVICE_DATABASE_URL": database_url,
        "ORDER_SERVICE_REDIS_URL": real_redis.url,
        "ORDER_SERVICE_CONFIG_SERVICE_URL": "http://127.0.0.1:9",
        "ORDER_SERVICE_TEST_CLOCK_START": PINNED,
    }
    with (tmp_path / "serve.log").open("wb") as sink:
        command = [sys.executable, "-m", "order_service", "serve", "--dev", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(url + "/metrics").status_code == 200, what="serve", process=process)
        yield ReferenceService(url, database_url)
    finally:
        stop_process(process, timeout=5)


def verify(service: ReferenceService, **options: Any) -> Any:
    return verify_provider(PROVIDER, service.url, service.state, consumer=CONSUMER, **options)


@pytest.mark.parametrize("version", [1, 2])
def test_the_pact_holds_with_each_request_signed_afresh(reference: ReferenceService, version: int) -> None:
    report = verify(
        reference, signer=signer_from_credentials(DEV_CREDENTIALS, version=version), prepare=dev_user_tokens()
    )
    assert report.ok, str(report)
    assert len(report.interactions) == 3


def test_replayed_as_recorded_every_request_is_refused(reference: ReferenceService) -> None:
    """Why the hook exists: the pact's own headers carry no valid signature (and an example token)."""
    report = verify(reference)
    assert not report.ok
    assert {m.interaction for m in report.mismatches} == set(report.interactions)
    assert all("401" in m.problem for m in report.mismatches if m.where == "status")


def test_a_wrong_secret_is_reported_as_a_signature_failure(reference: ReferenceService, tmp_path: Path) -> None:
    wrong = json.loads(DEV_CREDENTIALS.read_text())
    wrong["services"]["algo_engine"]["signing_secrets"] = ["not-the-provider's-secret"]
    (tmp_path / "wrong.json").write_text(json.dumps(wrong))
    report = verify(reference, signer=signer_from_credentials(tmp_path / "wrong.json"), prepare=dev_user_tokens())
    assert not report.ok
    signature = [m for m in report.mismatches if m.where == "signature"]
    assert {m.interaction for m in signature} == set(report.interactions)
    assert "refused the re-signed request's signature" in str(report)


def test_a_stale_user_token_is_not_called_a_signature_failure(reference: ReferenceService) -> None:
    """Re-signed but with the pact's example token: the 401 is the token's (Bearer), not the signature's."""
    report = verify(reference, signer=signer_from_credentials(DEV_CREDENTIALS))
    assert not report.ok
    assert not [m for m in report.mismatches if m.where == "signature"]


class _States(BaseHTTPRequestHandler):
    """A provider team's states endpoint: the body pact posts, handed to the reference's handler."""

    service: ReferenceService

    def do_POST(self) -> None:
        change = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.service.state(change["state"], change.get("action", "setup"), change.get("params"))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_cli_re_signs_with_the_dev_keys(reference: ReferenceService, tmp_path: Path) -> None:
    handler = type("States", (_States,), {"service": reference})
    states = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=states.serve_forever, daemon=True).start()
    try:
        command = [
            *(sys.executable, "-m", "harness", "verify-pacts", "--provider", PROVIDER, "--consumer", CONSUMER),
            *("--url", reference.url, "--states-url", f"http://127.0.0.1:{states.server_address[1]}/"),
            *("--dev", "--signing-version", "2", "--junit-xml", str(tmp_path / "junit.xml")),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    finally:
        states.shutdown()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{PROVIDER}: all 3 interactions verified" in result.stdout
    assert (PACTS / f"{CONSUMER}-{PROVIDER}.json").is_file()
