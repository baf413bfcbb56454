"""What a server registers in a DNS zone and the RFC 2136 update messages that
claim, rewrite and remove it, built with dnspython; pure (no socket). The same
records and the same ownership rule as the Rust server
(`src/discovery/register/records.rs`):

- `_pingpong._udp.ZONE PTR <instance>._pingpong._udp.ZONE` (one record of a
  shared RRset);
- `<instance>._pingpong._udp.ZONE` SRV and TXT (the mDNS TXT keys);
- the host's A/AAAA records.

An update that rewrites or removes an instance carries, as prerequisite, the
TXT it read (RFC 2136 §2.4.2), so it never touches another server's records.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass, replace

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update
from dns.rdtypes.ANY.TXT import TXT

#: Longest instance label DNS-SD allows.
MAX_INSTANCE_LEN = 63
#: TSIG algorithms both servers sign with.
ALGORITHMS = {
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key as BIND's `tsig-keygen` writes it."""

    name: str
    algorithm: str
    secret: bytes

    def keyring(self) -> dict[dns.name.Name, dns.tsig.Key]:
        """The keyring dnspython signs and verifies with."""
        name = dns.name.from_text(self.name)
        return {name: dns.tsig.Key(name, self.secret, ALGORITHMS[self.algorithm])}


def parse_key(text: str) -> TsigKey:
    """The first `key "NAME" { algorithm ALG; secret "B64"; };` clause of
    `text`; comments in `#`, `//` and `/* */` style are allowed."""
    # Comments go, quoted strings stay whole: a base64 secret may hold "//".
    text = re.sub(r'("[^"]*")|/\*.*?\*/|(?:#|//)[^\n]*', lambda m: m.group(1) or " ", text, flags=re.S)
    match = re.search(r"key\s+\"?([^\"{\s]*)\"?\s*\{(.*?)\}", text, flags=re.S)
    if match is None:
        raise ValueError('no `key "NAME" { ... };` clause (make one with `tsig-keygen NAME`)')
    name, body = match.group(1), match.group(2)
    if not name:
        raise ValueError("the key has no name")
    fields = dict(([*part.split(None, 1), ""])[:2] for part in (p.strip() for p in body.split(";")) if part)
    algorithm = fields.get("algorithm", "").strip().lower().rstrip(".")
    if not algorithm:
        raise ValueError("the key has no `algorithm` (hmac-sha256)")
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"algorithm {algorithm} is not supported: use hmac-sha256, hmac-sha384 or hmac-sha512"
        )
    secret_text = fields.get("secret", "").strip().strip('"')
    if not secret_text:
        raise ValueError("the key has no `secret`")
    try:
        secret = base64.b64decode(secret_text, validate=True)
    except ValueError:
        raise ValueError("the secret is not base64") from None
    return TsigKey(name=name, algorithm=algorithm, secret=secret)


def browse_name(zone: dns.name.Name) -> dns.name.Name:
    """`_pingpong._udp.ZONE`."""
    return dns.name.Name((b"_pingpong", b"_udp", *zone.labels))


def instance_name(zone: dns.name.Name, instance: str) -> dns.name.Name:
    """`<instance>._pingpong._udp.ZONE`, the instance one raw label (spaces,
    dots and UTF-8 allowed, RFC 6763 §4.3)."""
    label = instance.encode()
    if not 1 <= len(label) <= MAX_INSTANCE_LEN:
        raise ValueError(f"instance name {instance!r} must be 1 to {MAX_INSTANCE_LEN} bytes")
    return dns.name.Name((label, *browse_name(zone).labels))


def is_ours(txt: list[bytes], server_id: str, fingerprint: str) -> bool:
    """Our server id (this process wrote it) or our certificate (this server,
    restarted)."""
    for item in txt:
        key, _, value = item.decode(errors="replace").partition("=")
        key = key.lower()
        if key == "id" and value.lower() == server_id.lower():
            return True
        if key == "fp" and fingerprint and value.lower() == fingerprint.lower():
            return True
    return False


@dataclass(frozen=True)
class Registration:
    """Everything one server registers."""

    zone: dns.name.Name
    instance: str
    host: dns.name.Name
    port: int
    priority: int
    weight: int
    txt: tuple[tuple[str, str], ...]
    addresses: tuple[str, ...]
    ttl: int

    def name(self) -> dns.name.Name:
        """The instance's name."""
        return instance_name(self.zone, self.instance)

    def txt_strings(self) -> list[bytes]:
        """The TXT strings, `key=value`, in order."""
        return [f"{k}={v}".encode() for k, v in self.txt]

    def records(self) -> list[tuple[dns.name.Name, dns.rdata.Rdata]]:
        """Every record this server owns."""
        name = self.name()
        out = [
            (browse_name(self.zone), _rdata("PTR", name.to_text())),
            (name, _rdata("SRV", f"{self.priority} {self.weight} {self.port} {self.host.to_text()}")),
            (name, _txt(self.txt_strings())),
        ]
        for address in self.addresses:
            kind = "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
            out.append((self.host, _rdata(kind, address)))
        return out

    def claim(self, key: TsigKey) -> dns.update.UpdateMessage:
        """Only if the instance name is not in use (§2.4.5): every record,
        the host's addresses replaced."""
        update = _update(self.zone, key)
        update.absent(self.name())
        self._replace_addresses(update)
        self._add_all(update)
        return update

    def rewrite(self, key: TsigKey, owned: list[bytes]) -> dns.update.UpdateMessage:
        """Only if the instance's TXT is still `owned`: SRV, TXT and addresses
        replaced, the PTR added if missing."""
        update = _update(self.zone, key)
        update.present(self.name(), _txt(owned))
        update.delete(self.name(), "SRV")
        update.delete(self.name(), "TXT")
        self._replace_addresses(update)
        self._add_all(update)
        return update

    def remove(self, key: TsigKey, owned: list[bytes]) -> dns.update.UpdateMessage:
        """Only if the instance's TXT is still `owned`: its PTR, every record
        at its name, its addresses."""
        update = _update(self.zone, key)
        update.present(self.name(), _txt(owned))
        update.delete(browse_name(self.zone), _rdata("PTR", self.name().to_text()))
        update.delete(self.name())
        for owner, rdata in self.records()[3:]:
            update.delete(owner, rdata)
        return update

    def renamed(self, base: str, attempt: int) -> Registration:
        """The next conflict name, `base (N)`, shortened to fit one label."""
        suffix = f" ({attempt})"
        stem = base
        while len((stem + suffix).encode()) > MAX_INSTANCE_LEN:
            stem = stem[:-1]
        return replace(self, instance=stem + suffix)

    def is_complete_in(self, found: list[tuple[dns.name.Name, dns.rdata.Rdata]]) -> bool:
        """Whether every record is among `found`."""
        return all(record in found for record in self.records())

    def _replace_addresses(self, update: dns.update.UpdateMessage) -> None:
        update.delete(self.host, "A")
        update.delete(self.host, "AAAA")

    def _add_all(self, update: dns.update.UpdateMessage) -> None:
        for owner, rdata in self.records():
            update.add(owner, self.ttl, rdata)


def _update(zone: dns.name.Name, key: TsigKey) -> dns.update.UpdateMessage:
    return dns.update.UpdateMessage(
        zone,
        keyring=key.keyring(),
        keyname=dns.name.from_text(key.name),
        keyalgorithm=ALGORITHMS[key.algorithm],
    )


def _rdata(kind: str, text: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(kind), text)


def _txt(strings: list[bytes]) -> dns.rdata.Rdata:
    return TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings)


def choose_host(
    zone: dns.name.Name, explicit: str | None, cert_names: list[str], hostname: str
) -> tuple[dns.name.Name, str | None]:
    """The SRV target (clients check it against the certificate): `explicit`
    (relative to the zone unless it ends with a dot or already lies in it),
    else the certificate's first DNS name in the zone, else `<hostname>.ZONE`;
    and a warning when the certificate does not carry it."""
    if explicit is not None:
        host = dns.name.from_text(explicit, origin=None if explicit.endswith(".") else zone)
        plain = dns.name.from_text(explicit.rstrip("."))
        if not explicit.endswith(".") and plain.is_subdomain(zone):
            host = plain
        if not host.is_subdomain(zone):
            raise ValueError(f"host name {explicit!r} is not inside the zone {zone}")
    else:
        inside = [
            dns.name.from_text(n.lower())
            for n in cert_names
            if not n.startswith("*")
            and dns.name.from_text(n.lower()).is_subdomain(zone)
            and dns.name.from_text(n.lower()) != zone
        ]
        label = re.sub(r"[^a-z0-9-]", "-", hostname.split(".")[0].lower())[:63].strip("-") or "pingpong"
        host = inside[0] if inside else dns.name.Name((label.encode(), *zone.labels))
    shown = host.to_text(omit_final_dot=True).lower()
    covered = any(_covers(n, shown) for n in cert_names)
    warning = None
    if not covered:
        warning = (
            f"the server certificate does not carry {shown}: clients browsing "
            f"{zone.to_text(omit_final_dot=True)} will refuse it. Fix: issue it with --san {shown} "
            "(pingpong certs issue server), or give --register-host with a name it carries"
        )
    return host, warning


def _covers(cert_name: str, host: str) -> bool:
    cert_name = cert_name.rstrip(".").lower()
    if cert_name.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == cert_name[2:]
    return cert_name == host
