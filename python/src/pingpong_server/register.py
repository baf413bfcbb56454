"""Wide-area registration (`--register-dns ZONE`): the server's DNS-SD records
written into a zone of an ordinary DNS server by RFC 2136 dynamic update,
signed with TSIG, kept there, and removed on stop. The lifecycle of the Rust
server (`src/discovery/register/registrar.rs`): claim the instance name, or
take `NAME (2)` when another server holds it; check the records every refresh
and heal what is missing; follow TXT and address changes; back off on failure
and keep serving; delete only our own records on stop."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import replace

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.resolver
import dns.tsig
import dns.update

from .dnsrecords import Registration, TsigKey, browse_name, is_ours

log = logging.getLogger("pingpong_server.register")

#: Answer wait per attempt, and attempts per message (as the Rust server).
ATTEMPT_TIMEOUT = 1.0
ATTEMPTS = 3
#: How long a stopping server lets an update under way finish.
STOP_GRACE = 1.0
#: Conflict names tried: `NAME (2)` to `NAME (99)`.
MAX_RENAMES = 99
#: Back-off after a failure: 1 s, doubling, at most a minute.
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0


class RegisterError(Exception):
    """A registration failure, as one line with the cause and the fix."""


class Conflict(Exception):
    """The instance name belongs to another server (YXDOMAIN)."""


class Changed(Exception):
    """What a prerequisite named changed since it was read (NXRRSET)."""


def rejection(server: str, zone: str, key: str, rcode: dns.rcode.Rcode) -> RegisterError:
    """The line for an error answer, by code."""
    if rcode == dns.rcode.REFUSED:
        return RegisterError(
            f"the DNS server {server} refused the update of {zone} (REFUSED): it does not hold that zone, "
            f"or the zone does not allow updates signed with key {key!r}; check --register-server (the "
            f"zone's primary) and allow the key (BIND: update-policy {{ grant {key} zonesub ANY; }};)"
        )
    if rcode == dns.rcode.NOTAUTH:
        return RegisterError(
            f"the DNS server {server} is not authoritative for {zone}, or does not accept key {key!r} "
            "(NOTAUTH): check the zone name, --register-server (the zone's primary) and the key"
        )
    return RegisterError(
        f"the DNS server {server} answered {dns.rcode.to_text(rcode)} to the update of {zone}"
    )


async def find_primary(zone: dns.name.Name) -> str:
    """The zone's primary (its SOA's MNAME), through the system resolver."""
    shown = zone.to_text(omit_final_dot=True)
    try:
        soa = await dns.asyncresolver.resolve(zone, "SOA")
        mname = soa[0].mname
        address = await dns.asyncresolver.resolve(mname, "A")
        return str(address[0])
    except dns.resolver.NXDOMAIN:
        reason = "the name does not exist (NXDOMAIN)"
    except dns.resolver.NoAnswer:
        reason = "it has no SOA record of its own: it is not a zone apex"
    except dns.exception.DNSException as error:
        reason = f"the SOA lookup failed: {error}"
    raise RegisterError(
        f"cannot find the DNS zone {shown}: {reason}. Fix: check the zone name, or give --register-server IP"
    )


class Registrar:
    """Keeps `registration` in its zone; `run` until `stop`, then removes it."""

    def __init__(
        self,
        registration: Registration,
        key: TsigKey,
        server: tuple[str, int] | None,
        identity: tuple[str, str],
        refresh: float,
        read_addresses: Callable[[], list[str]] | None,
    ) -> None:
        self.registration = registration
        self.key = key
        self.server = server
        self.server_id, self.fingerprint = identity
        self.refresh = refresh
        self.read_addresses = read_addresses
        self.base = registration.instance
        self.status = "dns: registering"
        self._wake = asyncio.Event()
        self._zone = registration.zone.to_text(omit_final_dot=True)

    def update_txt(self, txt: dict[str, str]) -> None:
        """Registers a new TXT (draining, a new fingerprint) at once."""
        self.registration = replace(self.registration, txt=tuple(txt.items()))
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Registers, then keeps the records right until `stop`; removes them.
        A TXT change that comes with the stop (draining) is written first,
        with a bounded wait."""
        failures = 0
        last_error = ""
        while True:
            changed = self._wake.is_set()
            self._wake.clear()
            if stop.is_set() and not changed:
                break
            try:
                async with asyncio.timeout(STOP_GRACE if stop.is_set() else None):
                    await self._sync()
                failures, last_error = 0, ""
                wait = self.refresh
            except TimeoutError:
                break
            except (RegisterError, OSError, dns.exception.DNSException) as error:
                # Any failure of an exchange (dnspython raises more than
                # timeouts: a malformed or unexpected answer) is one line and
                # a retry, never the end of the registration.
                if str(error) != last_error:
                    log.warning("not registered in DNS: %s; retrying", error)
                last_error = str(error)
                self.status = f"dns: not registered: {error}"
                wait = min(FIRST_BACKOFF * 2**failures, MAX_BACKOFF)
                failures = min(failures + 1, 6)
            if stop.is_set():
                break
            await self._wait(stop, wait)
        await self._remove()

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        """Until `seconds` pass, the TXT changes, the addresses change or `stop`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not stop.is_set() and not self._wake.is_set():
            left = deadline - loop.time()
            if left <= 0:
                return
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=min(left, 1.0), return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if self.read_addresses is not None:
                now = tuple(sorted(self.read_addresses()))
                if now != self.registration.addresses:
                    log.info("addresses changed to %s; registering the new set", list(now))
                    self.registration = replace(self.registration, addresses=now)
                    return

    async def _primary(self) -> tuple[str, int]:
        if self.server is None:
            self.server = (await find_primary(self.registration.zone), 53)
            log.info("found the zone's primary DNS server %s", self.server[0])
        return self.server

    async def _exchange(self, message: dns.message.Message) -> dns.message.Message:
        """Sends `message` to the primary; NOERROR (or NXDOMAIN to a query) back."""
        host, port = await self._primary()
        shown = f"{host}:{port}"
        for _ in range(ATTEMPTS):
            try:
                answer = await dns.asyncquery.udp(message, host, port=port, timeout=ATTEMPT_TIMEOUT)
                break
            except dns.exception.Timeout:
                continue
            except dns.tsig.PeerBadSignature:
                raise RegisterError(
                    f"the DNS server {shown} says the update is signed with the wrong secret (BADSIG): "
                    f"the key file must hold the same secret as the server's key {self.key.name!r}"
                ) from None
            except dns.tsig.PeerBadKey:
                raise RegisterError(
                    f"the DNS server {shown} does not know the key {self.key.name!r} (BADKEY): add it to its "
                    "configuration, or use the key file it was given"
                ) from None
            except dns.tsig.PeerBadTime:
                raise RegisterError(
                    f"the DNS server {shown}'s clock differs from this machine's by more than 300 s "
                    "(BADTIME): synchronise the clocks (NTP)"
                ) from None
        else:
            raise RegisterError(
                f"no answer from the DNS server {shown} for zone {self._zone}: is it running, and is UDP "
                f"port {port} reachable? (--register-server)"
            )
        rcode = answer.rcode()
        if rcode == dns.rcode.YXDOMAIN:
            raise Conflict()
        if rcode == dns.rcode.NXRRSET:
            raise Changed()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise rejection(shown, self._zone, self.key.name, rcode)
        return answer

    async def _query(self, name: dns.name.Name, kind: str) -> list[dns.rdata.Rdata]:
        query = dns.message.make_query(name, kind)
        query.flags &= ~dns.flags.RD
        answer = await self._exchange(query)
        wanted = dns.rdatatype.from_text(kind)
        return [
            rdata
            for rrset in answer.answer
            if rrset.name == name and rrset.rdtype == wanted
            for rdata in rrset
        ]

    async def _read_txt(self) -> list[bytes] | None:
        found = await self._query(self.registration.name(), "TXT")
        return list(found[0].strings) if found else None  # type: ignore[attr-defined]

    async def _is_current(self, txt: list[bytes]) -> bool:
        if txt != self.registration.txt_strings():
            return False
        reg = self.registration
        found: list[tuple[dns.name.Name, dns.rdata.Rdata]] = []
        for owner, kind in [
            (browse_name(reg.zone), "PTR"),
            (reg.name(), "SRV"),
            (reg.name(), "TXT"),
            (reg.host, "A"),
            (reg.host, "AAAA"),
        ]:
            found.extend((owner, rdata) for rdata in await self._query(owner, kind))
        stale = any(
            owner == reg.host
            and rdata.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
            and rdata.to_text() not in reg.addresses
            for owner, rdata in found
        )
        return reg.is_complete_in(found) and not stale

    async def _sync(self) -> None:
        suffix, reread, races = 1, False, 0
        while True:
            txt = await self._read_txt()
            try:
                if txt is None:
                    await self._exchange(self.registration.claim(self.key))
                elif is_ours(txt, self.server_id, self.fingerprint):
                    if await self._is_current(txt):
                        return self._registered()
                    await self._exchange(self.registration.rewrite(self.key, txt))
                else:
                    raise Conflict()
                return self._registered()
            except Conflict:
                if txt is None and not reread:
                    reread = True
                    continue
                suffix, reread = suffix + 1, False
                if suffix > MAX_RENAMES:
                    raise RegisterError(
                        f"the instance names {self.base!r} to {self.base!r} ({MAX_RENAMES}) are all taken in "
                        f"{self._zone}: choose another --instance"
                    ) from None
                renamed = self.registration.renamed(self.base, suffix)
                log.warning(
                    "instance name taken in DNS by another server; renamed from=%r to=%r",
                    self.registration.instance,
                    renamed.instance,
                )
                self.registration = renamed
            except Changed:
                races += 1
                if races > 5:
                    raise RegisterError(
                        f"the records of {self.registration.instance!r} in {self._zone} keep changing while "
                        "this server writes them: is another server using its certificate and name?"
                    ) from None

    def _registered(self) -> None:
        status = f"dns: registered as {self.registration.instance!r} in {self._zone}"
        if status != self.status:
            log.info(
                "registered in DNS instance=%r zone=%s host=%s addresses=%s",
                self.registration.instance,
                self._zone,
                self.registration.host.to_text(),
                list(self.registration.addresses),
            )
        self.status = status

    async def _remove(self) -> None:
        if self.server is None:
            return
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT * ATTEMPTS + 1):
                txt = await self._read_txt()
                if txt is None or not is_ours(txt, self.server_id, self.fingerprint):
                    return
                await self._exchange(self.registration.remove(self.key, txt))
            log.info("removed from DNS instance=%r zone=%s", self.registration.instance, self._zone)
        except (RegisterError, Conflict, Changed, OSError, TimeoutError) as error:
            log.warning("cannot remove the records from DNS: %s", error or "no answer in time")


def routable(address: str, listen_host: str) -> bool:
    """Whether to register `address`: not loopback or link-local, unless the
    server listens on exactly it."""
    ip = ipaddress.ip_address(address)
    if address == listen_host.strip("[]"):
        return True
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)
