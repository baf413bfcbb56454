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
        "load": "0",
    }
    assert list(txt) == ["v", "path", "state", "id", "fp", "load"]
    draining = build_txt(server_id=bytes(16), path="/p", state=ServerState.DRAINING, fingerprint=FP, load=600)
    assert draining["state"] == "draining"
    assert draining["load"] == "600"
    with pytest.raises(TxtError):
        build_txt(server_id=bytes(16), path="/p", state=ServerState.SERVING, fingerprint=FP, load=1001)


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


class FakeAdvertiser:
    """Records what follow_addresses publishes."""

    def __init__(self, addresses: list[str]) -> None:
        self._addresses = addresses
        self.published: list[list[str]] = []

    @property
    def addresses(self) -> list[str]:
        return self._addresses

    async def set_addresses(self, addresses: list[str]) -> None:
        self._addresses = addresses
        self.published.append(addresses)


def test_follow_addresses_republishes_only_when_the_set_changes() -> None:
    import asyncio

    from pingpong_server.mdns import follow_addresses

    machine = [["10.0.0.1"], ["10.0.0.1"], ["10.0.0.50"], ["10.0.0.50"], ["10.0.0.50", "10.0.0.1"]]
    advertiser = FakeAdvertiser(["10.0.0.1"])

    async def scenario() -> None:
        stop = asyncio.Event()
        reads: list[tuple[str, list[str]]] = []

        def read(listen: str, interfaces: list[str]) -> list[str]:
            reads.append((listen, interfaces))
            if len(reads) == len(machine):
                stop.set()
            return machine[len(reads) - 1]

        await asyncio.wait_for(
            follow_addresses(advertiser, "0.0.0.0", ["eth0"], stop, poll_seconds=0.001, read=read),
            timeout=5,
        )
        assert reads[0] == ("0.0.0.0", ["eth0"])

    asyncio.run(scenario())
    assert advertiser.published == [["10.0.0.50"], ["10.0.0.1", "10.0.0.50"]]
