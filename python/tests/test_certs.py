"""Client certificate checks: chain, validity, clientAuth EKU; identities."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Pki, write_material

from pingpong_server.certs import (
    CertificateError,
    ClientRejected,
    ClientVerifier,
    describe,
    fingerprint_sha256,
    load_server_material,
)


def test_a_client_of_our_ca_passes(pki: Pki) -> None:
    ClientVerifier([pki.ca.cert]).verify(pki.client.cert, [])


def test_a_server_certificate_is_rejected_for_its_eku(pki: Pki) -> None:
    with pytest.raises(ClientRejected, match="clientAuth") as rejected:
        ClientVerifier([pki.ca.cert]).verify(pki.server.cert, [])
    assert rejected.value.alert == "unsupported"


def test_another_ca_and_expiry_are_rejected(pki: Pki) -> None:
    verifier = ClientVerifier([pki.ca.cert])
    with pytest.raises(ClientRejected, match="not signed by our CA") as other:
        verifier.verify(pki.other_client.cert, [])
    assert other.value.alert == "unknown_ca"
    with pytest.raises(ClientRejected, match="expired") as old:
        verifier.verify(pki.expired_client.cert, [])
    assert old.value.alert == "expired"


def test_identity_and_fingerprint_for_logs(pki: Pki) -> None:
    assert describe(pki.client.cert) == "alice (SAN alice)"
    assert len(fingerprint_sha256(pki.client.cert)) == 64


def test_server_material_loads_and_reports_bad_files(pki: Pki, tmp_path: Path) -> None:
    cert, key, ca = write_material(pki, tmp_path)
    material = load_server_material(cert, key, ca)
    assert material.fingerprint == fingerprint_sha256(pki.server.cert)
    with pytest.raises(CertificateError, match=r"does not exist\. Fix: pass --ca FILE"):
        load_server_material(cert, key, tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(CertificateError, match="holds no PEM certificate"):
        load_server_material(garbage, key, ca)
    with pytest.raises(CertificateError, match="holds no usable PEM private key"):
        load_server_material(cert, garbage, ca)


def test_a_key_of_another_certificate_is_refused_on_load(pki: Pki, tmp_path: Path) -> None:
    cert, key, ca = write_material(pki, tmp_path)
    (tmp_path / "client").mkdir()
    _, client_key, _ = write_material(pki, tmp_path / "client", server=pki.client)
    with pytest.raises(CertificateError) as refused:
        load_server_material(cert, client_key, ca)
    message = str(refused.value)
    assert f"{client_key} is not the key of {cert}" in message
    assert "Fix:" in message
    # Its own key still loads.
    load_server_material(cert, key, ca)


def test_an_allow_list_admits_only_its_names(pki: Pki) -> None:
    ClientVerifier([pki.ca.cert], ["alice"]).verify(pki.client.cert, [])
    with pytest.raises(ClientRejected, match="not on the allow-list") as refused:
        ClientVerifier([pki.ca.cert], ["bob"]).verify(pki.client.cert, [])
    assert refused.value.alert == "access_denied"
