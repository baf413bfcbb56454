"""mDNS advertising with python-zeroconf, as the Rust server does it:
`<instance>._pingpong._udp.local.` on the host's `<hostname>.local.`, the
same TXT keys, a TXT update for `state=draining`, and a goodbye on stop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import Protocol

import ifaddr
from zeroconf import InterfaceChoice, IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger("pingpong_server.mdns")

#: The service type of pingpong servers.
SERVICE_TYPE = "_pingpong._udp.local."
#: Longest instance label DNS-SD allows.
MAX_INSTANCE_LEN = 63
#: How often the advertiser re-reads the machine's addresses, as the Rust
#: server does: a new DHCP lease or a link coming up is advertised within it.
ADDRESS_POLL_SECONDS = 1.0


def local_hostname() -> str:
    """This host's name without a `.local` suffix (as the Rust server uses)."""
    host = socket.gethostname().strip().removesuffix(".local")
    return host or "pingpong"


def _adapters(interfaces: list[str]) -> list[ifaddr.Adapter]:
    """The host's interfaces, or only the named ones (an unknown name is an error)."""
    adapters = list(ifaddr.get_adapters())
    if not interfaces:
        return adapters
    known = {adapter.nice_name: adapter for adapter in adapters}
    unknown = [name for name in interfaces if name not in known]
    if unknown:
        raise ValueError(
            f"no network interface named {', '.join(unknown)}; this host has {', '.join(sorted(known))}"
        )
    return [known[name] for name in interfaces]


def advertised_addresses(listen_host: str, interfaces: list[str] | None = None) -> list[str]:
    """The addresses to publish: the listen address if it is a specific one;
    otherwise every address of the interfaces used (all, or `interfaces`),
    loopback only when nothing else exists (a host alone in a namespace), since
    a peer on the LAN cannot use it."""
    try:
        specific = ipaddress.ip_address(listen_host.strip("[]"))
    except ValueError:
        specific = None
    adapters = _adapters(interfaces or [])
    if specific is not None and not specific.is_unspecified:
        return [str(specific)]
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for adapter in adapters:
        for ip in adapter.ips:
            if isinstance(ip.ip, tuple):
                address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(ip.ip[0])
            else:
                address = ipaddress.IPv4Address(ip.ip)
            if specific is not None and specific.version == 4 and address.version == 6:
                continue
            found.append(address)
    usable = [a for a in found if not a.is_loopback] or found
    return [str(a) for a in usable]


def _zeroconf_interfaces(interfaces: list[str]) -> list[str | int] | InterfaceChoice:
    """What zeroconf binds to: every interface, or the IPv4 addresses and the
    IPv6 indexes of the named ones."""
    if not interfaces:
        return InterfaceChoice.All
    chosen: list[str | int] = []
    for adapter in _adapters(interfaces):
        for ip in adapter.ips:
            if isinstance(ip.ip, tuple):
                if adapter.index is not None and adapter.index not in chosen:
                    chosen.append(adapter.index)
            else:
                chosen.append(ip.ip)
    return chosen


class Advertiser:
    """One registered service; `update` re-publishes the TXT record."""

    def __init__(
        self,
        instance: str,
        port: int,
        txt: dict[str, str],
        addresses: list[str],
        interfaces: list[str] | None = None,
    ) -> None:
        if not 1 <= len(instance.encode()) <= MAX_INSTANCE_LEN:
            raise ValueError(f"instance name {instance!r} must be 1 to {MAX_INSTANCE_LEN} bytes")
        self._zeroconf = AsyncZeroconf(
            interfaces=_zeroconf_interfaces(interfaces or []), ip_version=IPVersion.All
        )
        self._txt = txt
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{instance}.{SERVICE_TYPE}",
            port=port,
            properties=txt,
            server=f"{local_hostname()}.local.",
            parsed_addresses=addresses,
        )

    @property
    def name(self) -> str:
        """The full service name (after any conflict rename)."""
        return self._info.name

    async def start(self) -> None:
        """Probes for the name (renamed on conflict) and announces it."""
        # zeroconf returns a task for the announcements; waiting for it means
        # the name is ours and announced.
        await (await self._zeroconf.async_register_service(self._info, allow_name_change=True))
        log.info("advertising %s over mDNS", self._info.name)

    @property
    def addresses(self) -> list[str]:
        """The addresses advertised now."""
        return list(self._info.parsed_addresses())

    async def update(self, txt: dict[str, str]) -> None:
        """Publishes a new TXT record for the same service."""
        await self._publish(txt, self.addresses)

    async def set_addresses(self, addresses: list[str]) -> None:
        """Publishes a new address set for the same service (a DHCP lease, a
        link going up or down)."""
        await self._publish(self._txt, addresses)

    async def _publish(self, txt: dict[str, str], addresses: list[str]) -> None:
        self._txt = txt
        self._info = AsyncServiceInfo(
            self._info.type,
            self._info.name,
            port=self._info.port,
            properties=txt,
            server=self._info.server,
            parsed_addresses=addresses,
        )
        await (await self._zeroconf.async_update_service(self._info))

    async def stop(self) -> None:
        """Says goodbye (TTL 0) and closes the responder."""
        try:
            await (await self._zeroconf.async_unregister_service(self._info))
        finally:
            await self._zeroconf.async_close()


class AddressPublisher(Protocol):
    """What follow_addresses needs of an advertiser."""

    @property
    def addresses(self) -> list[str]:
        """The addresses advertised now."""
        ...

    async def set_addresses(self, addresses: list[str]) -> None:
        """Publishes a new address set."""
        ...


async def follow_addresses(
    advertiser: AddressPublisher,
    listen_host: str,
    interfaces: list[str],
    stop: asyncio.Event,
    poll_seconds: float = ADDRESS_POLL_SECONDS,
    read: Callable[[str, list[str]], list[str]] = advertised_addresses,
) -> None:
    """Re-advertises whenever the addresses the server answers on change, until
    `stop` is set."""
    current = sorted(advertiser.addresses)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), poll_seconds)
            return
        except TimeoutError:
            pass
        try:
            now = sorted(read(listen_host, interfaces))
        except Exception as error:  # an interface went away, ifaddr failed
            log.warning("cannot read the advertised addresses: %s", error)
            continue
        if now != current:
            log.info("addresses changed from %s to %s; advertising the new set", current, now)
            try:
                await advertiser.set_addresses(now)
            except Exception as error:  # zeroconf stopped, network down: try again next time
                log.warning("cannot advertise the new addresses: %s", error)
                continue
            current = now
