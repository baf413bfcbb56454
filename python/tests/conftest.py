"""Shared fixtures: a throw-away PKI made with cryptography (a CA, client and
server leaves shaped like `pingpong certs` makes them, an expired client, and
a second CA), and the Rust side's golden vectors."""

from __future__ import annotations

import datetime
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

GOLDEN = Path(__file__).resolve().parents[2] / "testdata" / "proto-v1"
NOW = datetime.datetime.now(datetime.UTC)


@dataclass
class Leaf:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pingpong"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(name: str) -> Leaf:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(hours=1))
        .not_valid_after(NOW + datetime.timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Leaf(cert, key)


def make_leaf(
    ca: Leaf,
    name: str,
    usage: x509.ObjectIdentifier,
    *,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> Leaf:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(hours=1))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=5))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Leaf(cert, key)


@dataclass
class Pki:
    ca: Leaf
    server: Leaf
    client: Leaf
    expired_client: Leaf
    other_ca: Leaf
    other_client: Leaf


@pytest.fixture(scope="session")
def pki() -> Pki:
    ca = make_ca("test CA")
    other = make_ca("other CA")
    return Pki(
        ca=ca,
        server=make_leaf(ca, "localhost", ExtendedKeyUsageOID.SERVER_AUTH),
        client=make_leaf(ca, "alice", ExtendedKeyUsageOID.CLIENT_AUTH),
        expired_client=make_leaf(
            ca,
            "old",
            ExtendedKeyUsageOID.CLIENT_AUTH,
            not_before=NOW - datetime.timedelta(days=3),
            not_after=NOW - datetime.timedelta(days=1),
        ),
        other_ca=other,
        other_client=make_leaf(other, "mallory", ExtendedKeyUsageOID.CLIENT_AUTH),
    )


def write_material(pki: Pki, folder: Path, server: Leaf | None = None) -> tuple[Path, Path, Path]:
    """Writes a server's certificate, key (0600) and CA as the server reads them."""
    leaf = server or pki.server
    cert, key, ca = folder / "server.pem", folder / "server.key", folder / "ca.pem"
    cert.write_bytes(leaf.cert.public_bytes(Encoding.PEM))
    key.write_bytes(leaf.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    ca.write_bytes(pki.ca.cert.public_bytes(Encoding.PEM))
    return cert, key, ca
