"""The TXT record: the Rust server's keys, checked against clients' limits."""

from __future__ import annotations

import pytest

from pingpong_server.codec import ServerState
from pingpong_server.txt import TxtError, build_txt

FP = "ab" * 32


def test_same_keys_and_values_as_the_rust_server() -> None:
    txt = build_txt(server_id=bytes(range(16)), path="/pingpong", state=ServerState.SERVING, fingerprint=FP)
    assert txt == {
        "v": "1",
        "path": "/pingpong",
        "state": "serving",
        "id": "000102030405060708090a0b0c0d0e0f",
        "fp": FP,
    }
    draining = build_txt(server_id=bytes(16), path="/p", state=ServerState.DRAINING, fingerprint=FP)
    assert draining["state"] == "draining"


@pytest.mark.parametrize("path", ["pingpong", "/" + "x" * 64, "/a b", "/é"])
def test_paths_clients_would_refuse_are_errors(path: str) -> None:
    with pytest.raises(TxtError):
        build_txt(server_id=bytes(16), path=path, state=ServerState.SERVING, fingerprint=FP)


def test_bad_fingerprint_and_id_are_errors() -> None:
    with pytest.raises(TxtError):
        build_txt(server_id=bytes(16), path="/p", state=ServerState.SERVING, fingerprint="XYZ")
    with pytest.raises(TxtError):
        build_txt(server_id=bytes(3), path="/p", state=ServerState.SERVING, fingerprint=FP)


def test_advertised_addresses_follow_the_listen_address_and_interfaces() -> None:
    from pingpong_server.mdns import advertised_addresses

    assert advertised_addresses("192.0.2.7") == ["192.0.2.7"]
    # Loopback exists on every Linux host; alone, its addresses are published.
    assert "127.0.0.1" in advertised_addresses("::", ["lo"])
    assert "::1" not in advertised_addresses("0.0.0.0", ["lo"])
    with pytest.raises(ValueError, match="no network interface named nosuch0"):
        advertised_addresses("::", ["nosuch0"])
