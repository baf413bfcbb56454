"""A bare aioquic WebTransport echo server: the floor under the Python
pingpong server in `benches/python_server.rs`. Same aioquic, HTTP/3 and TLS
setup (server certificate only), no pingpong protocol: every byte received on
a bidirectional stream is sent straight back.

Usage: python echo_server.py CERT KEY  (prints "listening on 127.0.0.1:PORT")
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated, QuicEvent


class Echo(QuicConnectionProtocol):
    """Accepts any WebTransport session and echoes its streams."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http: H3Connection | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated):
            self._http = H3Connection(self._quic, enable_webtransport=True)
        if self._http is None:
            return
        for http_event in self._http.handle_event(event):
            if isinstance(http_event, HeadersReceived):
                self._http.send_headers(http_event.stream_id, [(b":status", b"200")])
            elif isinstance(http_event, WebTransportStreamDataReceived):
                self._quic.send_stream_data(http_event.stream_id, http_event.data)
        self.transmit()


async def main(cert: Path, key: Path) -> None:
    configuration = QuicConfiguration(
        is_client=False, alpn_protocols=H3_ALPN, max_datagram_frame_size=65536, idle_timeout=2.0
    )
    configuration.load_cert_chain(cert, key)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: QuicServer(configuration=configuration, create_protocol=Echo),
        local_addr=("127.0.0.1", 0),
    )
    port = transport.get_extra_info("sockname")[1]
    print(f"echo listening on 127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
