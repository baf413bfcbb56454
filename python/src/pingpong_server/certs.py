"""Certificate material: loading the server's files, verifying client
certificates against the CA (chain, validity and the clientAuth EKU, with
cryptography's X.509 verifier), and describing a client for logs.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

#: Environment variable naming the certificate folder (as for the Rust binary).
HOME_ENV = "PINGPONG_HOME"


class CertificateError(Exception):
    """Certificate files that are missing or do not load; the message says
    which file and how to fix it."""


def default_home() -> Path:
    """`$PINGPONG_HOME`, else `~/.local/share/pingpong` (the Rust default)."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "pingpong"


@dataclass(frozen=True)
class ServerMaterial:
    """The server's certificate chain, key and the CA that signs clients."""

    chain: list[x509.Certificate]
    key: PrivateKeyTypes
    ca: list[x509.Certificate]

    def not_after(self) -> float:
        """When the leaf expires, Unix time."""
        return self.chain[0].not_valid_after_utc.timestamp()

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the server certificate, lowercase hex."""
        return fingerprint_sha256(self.chain[0])


def load_server_material(cert: Path, key: Path, ca: Path) -> ServerMaterial:
    """Loads PEM files, with an error that names the file and the fix."""

    def read(path: Path, what: str, flag: str) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise CertificateError(
                f"{what} file {path} does not exist. Fix: pass --{flag} FILE, or create it "
                "with `pingpong certs init` and `pingpong certs issue server --name NAME`"
            ) from None
        except OSError as error:
            raise CertificateError(f"cannot read {what} file {path}: {error.strerror}") from None

    def certificates(path: Path, what: str, flag: str) -> list[x509.Certificate]:
        try:
            loaded = x509.load_pem_x509_certificates(read(path, what, flag))
        except ValueError as error:
            raise CertificateError(f"{what} file {path} holds no PEM certificate: {error}") from None
        return loaded

    chain = certificates(cert, "certificate", "cert")
    authorities = certificates(ca, "CA certificate", "ca")
    try:
        private_key = load_pem_private_key(read(key, "key", "key"), password=None)
    except (ValueError, TypeError) as error:
        raise CertificateError(f"key file {key} holds no usable PEM private key: {error}") from None
    if _public_der(private_key.public_key()) != _public_der(chain[0].public_key()):
        # Caught here, not by the first client's failed handshake.
        raise CertificateError(
            f"{key} is not the key of {cert} (their public keys differ). Fix: use the key "
            "that was written with that certificate, or issue a new pair with "
            "`pingpong certs issue server --name NAME --force`"
        )
    return ServerMaterial(chain=chain, key=private_key, ca=authorities)


def _public_der(public_key: PublicKeyTypes) -> bytes:
    """A public key as DER SubjectPublicKeyInfo, for comparing two keys."""
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


class ClientRejected(Exception):
    """A client certificate that does not pass; `alert` is the TLS alert to send."""

    def __init__(self, reason: str, alert: str) -> None:
        super().__init__(reason)
        self.alert = alert


class ClientVerifier:
    """Verifies client certificate chains against the CA: signature chain,
    validity period and the clientAuth extended key usage; with `allowed`, the
    certificate must also carry one of those names (CN or SAN)."""

    def __init__(self, ca: list[x509.Certificate], allowed: list[str] | None = None) -> None:
        self._store = Store(ca)
        self._allowed = set(allowed or [])

    def verify(
        self,
        leaf: x509.Certificate,
        intermediates: list[x509.Certificate],
        now: datetime.datetime | None = None,
    ) -> None:
        """Raises `ClientRejected` with the reason and the alert that says it."""
        builder = PolicyBuilder().store(self._store)
        if now is not None:
            builder = builder.time(now)
        try:
            builder.build_client_verifier().verify(leaf, intermediates)
        except VerificationError as error:
            raise _classify(str(error), leaf, now) from None
        common_name, sans = _names(leaf)
        if self._allowed and not self._allowed.intersection([common_name, *sans]):
            raise ClientRejected(
                f"client {describe(leaf)} is not on the allow-list (--allow-client)", "access_denied"
            )


def _classify(reason: str, leaf: x509.Certificate, now: datetime.datetime | None) -> ClientRejected:
    moment = now or datetime.datetime.now(datetime.UTC)
    if moment > leaf.not_valid_after_utc:
        return ClientRejected(f"client certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}", "expired")
    if moment < leaf.not_valid_before_utc:
        return ClientRejected("client certificate is not valid yet", "bad")
    if "EKU" in reason:
        return ClientRejected(
            "client certificate is not for client authentication (no clientAuth EKU)", "unsupported"
        )
    if "issuer" in reason.lower() or "candidates exhausted" in reason:
        return ClientRejected(f"client certificate is not signed by our CA ({reason})", "unknown_ca")
    return ClientRejected(f"client certificate refused: {reason}", "bad")


def fingerprint_sha256(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lowercase hex."""
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


def _names(certificate: x509.Certificate) -> tuple[str | None, list[str]]:
    """The common name and the DNS, URI and IP subject alternative names."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else None
    sans: list[str] = []
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        for name in extension.value:
            if isinstance(name, x509.DNSName | x509.UniformResourceIdentifier):
                sans.append(name.value)
            elif isinstance(name, x509.IPAddress) and isinstance(
                name.value, ipaddress.IPv4Address | ipaddress.IPv6Address
            ):
                sans.append(str(name.value))
    except x509.ExtensionNotFound:
        pass
    return common_name, sans


def names(certificate: x509.Certificate) -> list[str]:
    """The common name and the subject alternative names, for matching."""
    common_name, sans = _names(certificate)
    return ([common_name] if common_name else []) + sans


def describe(certificate: x509.Certificate) -> str:
    """A short human form for logs, as the Rust server writes it: the CN
    (else the first SAN, else the fingerprint's start) and the SANs."""
    common_name, sans = _names(certificate)
    text = common_name or (sans[0] if sans else f"sha256:{fingerprint_sha256(certificate)[:16]}")
    if sans:
        text += f" (SAN {', '.join(sans)})"
    return text
