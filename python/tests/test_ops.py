"""The operations endpoint: health, readiness that turns 503 on drain, and
metrics with the Rust server's names and the shared state's values, served
over HTTP on loopback."""

from __future__ import annotations

import asyncio

import pytest
from conftest import make_ca

from pingpong_server import __version__, ops
from pingpong_server.certs import ClientVerifier
from pingpong_server.ops import OpsEndpoint, Slots
from pingpong_server.session import ServerInfo
from pingpong_server.state import Shared


def shared() -> Shared:
    return Shared(
        info=ServerInfo(server_id=bytes(16), instance="t"),
        path="/pingpong",
        verifier=ClientVerifier([make_ca("ops CA").cert]),
        max_sessions=4000,
        certificate_not_after=1_900_000_000.0,
    )


async def get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    response = (await reader.read()).decode()
    writer.close()
    head, _, body = response.partition("\r\n\r\n")
    return int(head.split()[1]), body


def test_health_readiness_and_metrics_over_http() -> None:
    async def scenario() -> dict[str, tuple[int, str]]:
        state = shared()
        endpoint = OpsEndpoint(state, lambda: 'dns: registered as "t" in lab.test')
        server, (_, port) = await endpoint.start("127.0.0.1", 0)
        state.sessions.update({object(), object()})
        state.sessions_total, state.pings = 5, 42
        state.refuse("tls")
        seen = {path: await get(port, path) for path in ("/healthz", "/readyz", "/metrics", "/nope")}
        state.drain_sessions()
        seen["/readyz draining"] = await get(port, "/readyz")
        seen["/metrics draining"] = await get(port, "/metrics")
        server.close()
        return seen

    seen = asyncio.run(scenario())
    assert seen["/healthz"] == (200, "ok\n")
    assert seen["/readyz"] == (200, 'ready\ndns: registered as "t" in lab.test\n')
    assert seen["/nope"][0] == 404
    assert seen["/readyz draining"][0] == 503
    assert seen["/readyz draining"][1].startswith("draining\n")
    status, metrics = seen["/metrics"]
    assert status == 200
    samples = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#"))
    assert samples == {
        "pingpong_sessions_open": "2.0",
        "pingpong_sessions_max": "4000.0",
        "pingpong_sessions_total": "5.0",
        "pingpong_pings_total": "42.0",
        "pingpong_tls_tickets_accepted_total": "0.0",
        'pingpong_refused_total{reason="tls"}': "1.0",
        "pingpong_draining": "0.0",
        "pingpong_outbox_clients": "0.0",
        "pingpong_certificate_not_after_seconds": "1.9e+09",
        f'pingpong_build_info{{version="{__version__}"}}': "1.0",
        "pingpong_dns_registered": "1.0",
    }
    assert metrics.endswith("# EOF\n")
    assert "pingpong_draining 1.0" in seen["/metrics draining"][1]


def test_a_slow_request_is_dropped_and_the_endpoint_keeps_serving() -> None:
    async def scenario() -> int:
        endpoint = OpsEndpoint(shared())
        server, (_, port) = await endpoint.start("127.0.0.1", 0)
        _, silent = await asyncio.open_connection("127.0.0.1", port)
        silent.write(b"GET /healthz HTTP/1.1\r\n")  # never finished
        status, _ = await get(port, "/healthz")
        silent.close()
        server.close()
        return status

    assert asyncio.run(scenario()) == 200


def test_slots_hold_both_limits_and_free_when_given_back() -> None:
    slots = Slots(total=3, per_peer=2)
    assert slots.take("10.0.0.1") and slots.take("10.0.0.1")
    assert not slots.take("10.0.0.1"), "a third from one peer"
    assert slots.take("10.0.0.2")
    assert not slots.take("10.0.0.3"), "a fourth in all"
    slots.give_back("10.0.0.1")
    assert slots.take("10.0.0.3"), "a freed place serves the next"
    assert not slots.take("10.0.0.1"), "full again"
    assert slots.open() == 3


def test_a_connection_over_the_limit_is_closed_unanswered(monkeypatch: pytest.MonkeyPatch) -> None:
    # Longer than the test: only the limit can close a connection here.
    monkeypatch.setattr(ops, "REQUEST_TIMEOUT", 3600.0)

    async def scenario() -> bytes:
        endpoint = OpsEndpoint(shared())
        endpoint.slots = Slots(total=4, per_peer=1)
        server, (_, port) = await endpoint.start("127.0.0.1", 0)
        # Accepted and served first, it holds this address's one place by
        # asking nothing.
        _, held = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            refused = await reader.read()
        except ConnectionResetError:  # closed with our request unread
            refused = b""
        writer.close()
        held.close()
        server.close()
        return refused

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == b""
