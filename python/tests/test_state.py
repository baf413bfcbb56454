"""The shared state: the drain reaches every connection (one that fails is
closed, the others still drain), waiting for idle closes what is left, and
refusals are counted by reason."""

from __future__ import annotations

import asyncio

from conftest import make_ca

from pingpong_server.certs import ClientVerifier
from pingpong_server.codec import CLOSE_INTERNAL_ERROR, CLOSE_SHUTDOWN
from pingpong_server.session import ServerInfo
from pingpong_server.state import Shared


class FakeConnection:
    def __init__(self, remote: str, broken: bool = False) -> None:
        self.remote = remote
        self.broken = broken
        self.drained = False
        self.closed_with: tuple[int, str] | None = None

    def drain(self) -> None:
        if self.broken:
            raise RuntimeError("bug")
        self.drained = True

    def close(self, error_code: int = CLOSE_SHUTDOWN, reason_phrase: str = "") -> None:
        self.closed_with = (error_code, reason_phrase)


def shared() -> Shared:
    return Shared(
        info=ServerInfo(server_id=bytes(16), instance="t"),
        path="/pingpong",
        verifier=ClientVerifier([make_ca("state CA").cert]),
        max_sessions=10,
    )


def test_a_broken_connection_is_closed_and_the_others_still_drain() -> None:
    state = shared()
    good, broken, other = FakeConnection("a"), FakeConnection("b", broken=True), FakeConnection("c")
    for connection in (good, broken, other):
        state.opened(connection)
    state.drain_sessions()
    assert state.draining
    assert good.drained and other.drained
    assert broken.closed_with == (CLOSE_INTERNAL_ERROR, "internal server error")


def test_waiting_for_idle_ends_when_the_last_connection_goes_or_closes_the_rest() -> None:
    async def scenario() -> tuple[int, int]:
        state = shared()
        leaving, staying = FakeConnection("a"), FakeConnection("b")
        state.opened(leaving)
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, state.closed, leaving)
        left = await state.wait_until_idle(5.0)
        state.opened(staying)
        stayed = await state.wait_until_idle(0.01)
        assert staying.closed_with == (CLOSE_SHUTDOWN, "server shutting down")
        assert state.idle.is_set() is False
        return left, stayed

    assert asyncio.run(scenario()) == (0, 1)


def test_refusals_are_counted_by_reason() -> None:
    state = shared()
    for reason in ("tls", "tls", "server_full"):
        state.refuse(reason)
    assert state.refused == {"tls": 2, "server_full": 1}
