"""pingpong-server: the pingpong protocol v1 server in Python (aioquic for
HTTP/3 + WebTransport, zeroconf for mDNS, cryptography for client
certificates). Parts: `codec` (wire format), `session` (sans-IO protocol
logic), `outbox` (resume), `certs` and `aioquic_internals` (mTLS), `txt` and
`mdns` (discovery), `server` (connections and sessions), `cli`.
"""

__version__ = "0.1.0"
