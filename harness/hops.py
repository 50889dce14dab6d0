"""The headers a proxy of the harness does not pass on (`harness proxy`, the re-signing proxy of `verify-pacts`)."""

from __future__ import annotations

# hop-by-hop headers (RFC 9110 7.6.1) and the host: the proxy's own connection sets them
NOT_FORWARDED = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer", "host"})
# hop-by-hop headers and what the server in front sets itself
NOT_RETURNED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"})
