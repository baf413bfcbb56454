"""The listener's certificate watcher: unchanged files say nothing, new files
that load are handed over, files that do not load are refused (the old
material stays); and the dual-stack socket."""

from __future__ import annotations

import socket
from pathlib import Path

from conftest import Pki, make_leaf, write_material
from cryptography.x509.oid import ExtendedKeyUsageOID

from pingpong_server.certs import fingerprint_sha256
from pingpong_server.listener import CertWatcher, Changed, Rejected, bind_socket


def test_the_watcher_hands_over_new_files_and_refuses_broken_ones(pki: Pki, tmp_path: Path) -> None:
    cert, key, ca = write_material(pki, tmp_path)
    watcher = CertWatcher(cert, key, ca)
    assert watcher.check() is None

    renewed = make_leaf(pki.ca, "localhost", ExtendedKeyUsageOID.SERVER_AUTH)
    write_material(pki, tmp_path, renewed)
    result = watcher.check()
    assert isinstance(result, Changed)
    assert result.material.fingerprint == fingerprint_sha256(renewed.cert)
    assert watcher.check() is None

    # Half-written: refused once, with the file named; then quiet until it changes again.
    text = cert.read_text()
    cert.write_text(text[: len(text) // 2])
    refused = watcher.check()
    assert isinstance(refused, Rejected)
    assert str(cert) in str(refused.error)
    assert watcher.check() is None


def test_a_missing_file_mid_swap_is_a_change_once_it_is_back(pki: Pki, tmp_path: Path) -> None:
    cert, key, ca = write_material(pki, tmp_path)
    watcher = CertWatcher(cert, key, ca)
    moved = tmp_path / "aside.pem"
    cert.rename(moved)
    assert isinstance(watcher.check(), Rejected)
    moved.rename(cert)
    assert isinstance(watcher.check(), Changed)


def test_the_wildcard_listener_takes_ipv4_too() -> None:
    sock = bind_socket("[::]", 0)
    try:
        port = sock.getsockname()[1]
        # One IPv6 socket that also takes IPv4 (not an IPv4 fallback).
        assert sock.family == socket.AF_INET6
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.sendto(b"x", ("127.0.0.1", port))
        sender.close()
        sock.setblocking(True)
        sock.settimeout(2)
        assert sock.recvfrom(16)[0] == b"x"
    finally:
        sock.close()
