"""Binding as the Rust server binds: `[::]` is dual-stack (`IPV6_V6ONLY`
off) and falls back to `0.0.0.0` where the host has no IPv6; any other
address is bound as given. Used by the QUIC listener (UDP) and the
operations endpoint (TCP)."""

from __future__ import annotations

import errno
import logging
import socket

log = logging.getLogger("pingpong_server")


def bind(host: str, port: int, kind: socket.SocketKind) -> socket.socket:
    """A non-blocking socket of `kind` bound to `host`:`port` (`::` = both
    families), with SO_REUSEADDR for TCP (a restarted server gets its port
    back at once)."""
    if host in ("::", "[::]"):
        try:
            sock = socket.socket(socket.AF_INET6, kind)
        except OSError as error:
            log.warning("IPv6 unavailable (%s), binding 0.0.0.0:%d", error, port)
            return bind("0.0.0.0", port, kind)
        try:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            _reuse(sock, kind)
            sock.bind(("::", port))
        except OSError as error:
            sock.close()
            # No IPv6 on this host: IPv4 alone. Anything else (the port in
            # use) is the caller's error, not a reason to change family.
            if error.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT):
                raise
            log.warning("IPv6 unavailable (%s), binding 0.0.0.0:%d", error, port)
            return bind("0.0.0.0", port, kind)
    else:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, kind)
        try:
            _reuse(sock, kind)
            sock.bind((host.strip("[]"), port))
        except OSError:
            sock.close()
            raise
    sock.setblocking(False)
    return sock


def _reuse(sock: socket.socket, kind: socket.SocketKind) -> None:
    if kind == socket.SOCK_STREAM:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
