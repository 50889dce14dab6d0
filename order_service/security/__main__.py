"""`python -m order_service.security`: sign and send one request with the dev keys (a curl for the order API).

    python -m order_service.security POST http://127.0.0.1:8000/orders --identity algo_engine \\
        --data '{"exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY",
                 "order_type": "MARKET", "product": "MIS", "quantity": 1}'

A dev user token for `--account` is added unless `--no-user`; signed with version 2 (covering
the token, the account and the content type) unless `--signing-version 1`. Prints the status, the
response headers with -i, and the body; exits 0 on 2xx, 1 otherwise.
"""

from __future__ import annotations

import argparse
import ssl
import sys
from pathlib import Path

import httpx

from order_service.security.dev import dev_signer, dev_user_token


def main(argv: list[str] | None = None, prog: str = "python -m order_service.security") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("method", type=str.upper)
    parser.add_argument("url")
    parser.add_argument("--identity", default="algo_engine", help="calling service (dev keys)")
    parser.add_argument("--data", help="JSON body")
    parser.add_argument("--account", default="ZX1234", help="X-Trading-Account-Id, and the token's account")
    parser.add_argument("--user", default="user-1", help="subject of the dev user token")
    parser.add_argument("--no-user", action="store_true", help="send no user token and no account header")
    parser.add_argument(
        "--signing-version", type=int, choices=(1, 2), default=2, help="request signing version (default 2)"
    )
    parser.add_argument(
        "--tls-dir",
        type=Path,
        help="mutual TLS: trust DIR/ca.pem and present DIR/<identity>.pem (`mocks up --tls` makes them)",
    )
    parser.add_argument("-i", "--include", action="store_true", help="print the response headers")
    args = parser.parse_args(argv)
    headers = {"content-type": "application/json"} if args.data else {}
    if not args.no_user:
        headers["authorization"] = "Bearer " + dev_user_token(args.user, (args.account,))
        headers["x-trading-account-id"] = args.account
    try:
        verify: ssl.SSLContext | bool = True
        if args.tls_dir is not None:
            verify = ssl.create_default_context(cafile=str(args.tls_dir / "ca.pem"))
            verify.load_cert_chain(args.tls_dir / f"{args.identity}.pem", args.tls_dir / f"{args.identity}.key")
        signer = dev_signer(args.identity, version=args.signing_version)
        with httpx.Client(auth=signer, timeout=10, verify=verify) as client:
            response = client.request(args.method, args.url, content=args.data, headers=headers)
    except KeyError:
        print(f"error: no dev keys for identity {args.identity!r}", file=sys.stderr)
        return 2
    except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"HTTP {response.status_code}")
    if args.include:
        for name, value in response.headers.items():
            print(f"{name}: {value}")
    print(response.text)
    return 0 if response.is_success else 1


if __name__ == "__main__":
    raise SystemExit(main())
