"""The TXT record a pingpong server advertises (RFC 6763 `key=value`), with
the same keys as the Rust server (`src/discovery/txt.rs`): `v` protocol
version, `path` WebTransport path, `state` serving|draining, `id` server
instance id (32 hex digits), `fp` SHA-256 of the server certificate (hex),
`load` sessions in use per mille of `--max-sessions` (see `load.py`).
"""

from __future__ import annotations

from .codec import MAX_VERSION, ServerState

#: Longest value a pingpong client accepts for any key.
MAX_VALUE_LEN = 128
#: Longest WebTransport path a pingpong client accepts.
MAX_PATH_LEN = 64


class TxtError(ValueError):
    """A TXT record this server would advertise but clients would refuse."""


def build_txt(
    *, server_id: bytes, path: str, state: ServerState, fingerprint: str, load: int = 0
) -> dict[str, str]:
    """The TXT pairs, in the Rust server's order, checked against the limits
    clients apply (a record they would refuse is an error here, not a silent
    invisibility there)."""
    if len(server_id) != 16:
        raise TxtError("server id must be 16 bytes")
    if len(path) > MAX_PATH_LEN or not path.startswith("/") or not path.isascii():
        raise TxtError(f"path {path!r} must start with '/', be ASCII and at most {MAX_PATH_LEN} bytes")
    if not path[1:].isprintable() or " " in path:
        raise TxtError(f"path {path!r} must be printable ASCII without spaces")
    if not 8 <= len(fingerprint) <= 64 or any(c not in "0123456789abcdef" for c in fingerprint):
        raise TxtError("fingerprint must be 8 to 64 lowercase hex digits")
    if not 0 <= load <= 1000:
        raise TxtError(f"load {load} is not per mille (0 to 1000)")
    return {
        "v": str(MAX_VERSION),
        "path": path,
        "state": "draining" if state == ServerState.DRAINING else "serving",
        "id": server_id.hex(),
        "fp": fingerprint,
        "load": str(load),
    }
