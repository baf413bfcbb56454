"""`pingpong-server`: the command line, logging and signals. The flags and
defaults are those of `pingpong server` (the Rust binary)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import dns.name

from . import __version__
from .certs import (
    CertificateError,
    ClientVerifier,
    ServerMaterial,
    default_home,
    load_server_material,
    names,
)
from .codec import ServerState
from .dnsrecords import Registration, choose_host, parse_key
from .listener import CertWatcher, reload_certificates, serve
from .load import LOAD_POLL, LoadReport, per_mille
from .mdns import Advertiser, advertised_addresses, follow_addresses, local_hostname
from .ops import OpsEndpoint
from .register import Registrar, routable
from .session import ServerInfo
from .state import Shared, Timing
from .txt import build_txt

log = logging.getLogger("pingpong_server")

#: Defaults shared with the Rust server.
DEFAULT_LISTEN = "[::]:4433"
DEFAULT_PATH = "/pingpong"
DEFAULT_MAX_SESSIONS = 10_000


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[IPv6]:PORT`; the port may be 0 (any free port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. [::]:4433 or 127.0.0.1:0)")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {port!r} is not a number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} is out of range 0..65535")
    return host.strip("[]") or "::", number


def parse_path(text: str) -> str:
    """A WebTransport path: starts with '/', no spaces."""
    if not text.startswith("/") or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError("a path starts with '/' and has no spaces")
    return text


def parse_seconds(text: str) -> float:
    """A non-negative number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("seconds cannot be negative")
    return value


def parse_positive_int(text: str) -> int:
    """An integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(
        prog="pingpong-server",
        description="pingpong server in Python: answers pings over mTLS WebTransport "
        "and advertises _pingpong._udp over mDNS, like `pingpong server`.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=parse_listen(DEFAULT_LISTEN),
        metavar="HOST:PORT",
        help=f"UDP address to listen on; [::] is dual-stack (default: {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--path",
        type=parse_path,
        default=DEFAULT_PATH,
        help="WebTransport path; others get 404 (default: %(default)s)",
    )
    parser.add_argument(
        "--instance", help="instance name sent to clients and advertised (default: the host name)"
    )
    parser.add_argument("--no-mdns", action="store_true", help="do not advertise over mDNS")
    parser.add_argument(
        "--allow-client",
        action="append",
        default=[],
        metavar="NAME",
        help="serve only clients whose certificate carries NAME as CN or SAN (repeatable; default: any)",
    )
    parser.add_argument(
        "--mdns-interface",
        action="append",
        default=[],
        metavar="NAME",
        help="use mDNS only on this interface (repeatable; default: every interface)",
    )
    parser.add_argument(
        "--max-sessions",
        type=parse_positive_int,
        default=DEFAULT_MAX_SESSIONS,
        help="most sessions served at once; more clients get 'server full' (default: %(default)s)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=parse_seconds,
        default=5.0,
        metavar="SECONDS",
        help="seconds a draining server (SIGTERM/SIGINT) gives its sessions to move (default: 5)",
    )
    parser.add_argument(
        "--metrics",
        type=parse_listen,
        metavar="HOST:PORT",
        help="serve /healthz, /readyz (503 while draining) and /metrics (OpenMetrics, the Rust "
        "server's names) over HTTP on this TCP address; [::] is dual-stack (default: off)",
    )
    add_register_arguments(parser)
    parser.add_argument(
        "--dir", type=Path, help="certificate folder (default: $PINGPONG_HOME, else ~/.local/share/pingpong)"
    )
    parser.add_argument(
        "--cert",
        type=Path,
        metavar="FILE",
        help="server certificate (PEM); default: server.pem in the folder",
    )
    parser.add_argument(
        "--key", type=Path, metavar="FILE", help="server key (PEM); default: server.key in the folder"
    )
    parser.add_argument(
        "--ca",
        type=Path,
        metavar="FILE",
        help="CA that clients must chain to (PEM); default: ca.pem in the folder",
    )
    return parser


def parse_dns_server(text: str) -> tuple[str, int]:
    """IP or IP:PORT (port 53 by default)."""
    try:
        return str(ipaddress.ip_address(text.strip("[]"))), 53
    except ValueError:
        pass
    host, _, port = text.rpartition(":")
    try:
        return str(ipaddress.ip_address(host.strip("[]"))), int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not IP or IP:PORT") from None


def add_register_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of wide-area registration, as `pingpong server` has them."""
    group = parser.add_argument_group("registration in a DNS zone (RFC 2136)")
    group.add_argument(
        "--register-dns",
        metavar="ZONE",
        help="register this server in DNS zone ZONE, so clients on other subnets find it with --dns-sd ZONE",
    )
    group.add_argument(
        "--register-server",
        type=parse_dns_server,
        metavar="IP[:PORT]",
        help="DNS server that takes the zone's updates (default: the zone's primary, from its SOA)",
    )
    group.add_argument("--tsig-key", type=Path, metavar="FILE", help="TSIG key in BIND's format")
    group.add_argument("--register-host", metavar="NAME", help="SRV target host name to register")
    group.add_argument(
        "--register-address",
        action="append",
        default=[],
        metavar="IP",
        help="address to register instead of the ones listened on (repeatable)",
    )
    group.add_argument("--srv-priority", type=int, default=0, metavar="N", help="SRV priority (default: 0)")
    group.add_argument("--srv-weight", type=int, default=100, metavar="N", help="SRV weight (default: 100)")
    group.add_argument(
        "--register-ttl", type=parse_seconds, default=10.0, metavar="SECONDS", help="TTL (default: 10)"
    )
    group.add_argument(
        "--register-refresh",
        type=parse_seconds,
        default=30.0,
        metavar="SECONDS",
        help="seconds between checks that the records are there (default: 30)",
    )


def configure_logging() -> None:
    """Logs to stderr; the level comes from PINGPONG_LOG or RUST_LOG (as the
    Rust binary reads it), default info."""
    wanted = (os.environ.get("PINGPONG_LOG") or os.environ.get("RUST_LOG") or "info").split(",")[0]
    level = getattr(logging, wanted.split("=")[-1].upper(), logging.INFO)
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aioquic repeats every refused handshake that we already log, and zeroconf
    # warns about each interface without a multicast route; both stay
    # available with a debug level.
    for noisy in ("quic", "zeroconf"):
        logging.getLogger(noisy).setLevel(level if level <= logging.DEBUG else logging.ERROR)


async def run(args: argparse.Namespace) -> int:
    """Runs the server until SIGTERM or SIGINT, then drains."""
    home = args.dir or default_home()
    files = (args.cert or home / "server.pem", args.key or home / "server.key", args.ca or home / "ca.pem")
    material = load_server_material(*files)
    # The watcher's baseline is what was just loaded: a rotation during the
    # start-up below is seen at the first check.
    watcher = CertWatcher(*files)
    info = ServerInfo(server_id=os.urandom(16), instance=args.instance or local_hostname())
    shared = Shared(
        info=info,
        path=args.path,
        verifier=ClientVerifier(material.ca, args.allow_client),
        max_sessions=args.max_sessions,
        timing=Timing(drain_timeout=args.drain_timeout),
        certificate_not_after=material.not_after(),
    )
    addresses: list[str] = []
    if not args.no_mdns:
        try:
            addresses = advertised_addresses(args.listen[0], args.mdns_interface)
        except ValueError as error:
            raise SystemExit(
                f"pingpong-server: cannot advertise over mDNS: {error} (use --no-mdns)"
            ) from None
    try:
        listener = await serve(args.listen, material, shared)
    except OSError as error:
        host, port = args.listen
        raise SystemExit(f"pingpong-server: cannot listen on {host}:{port}: {error.strerror}") from None
    host, port = listener.address
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    print(
        f"pingpong-server listening on {shown} path {args.path} instance {json.dumps(info.instance)} "
        f"cert sha256:{material.fingerprint}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    load = LoadReport()

    def txt(state: ServerState) -> dict[str, str]:
        return build_txt(
            server_id=info.server_id,
            path=args.path,
            state=state,
            fingerprint=material.fingerprint,
            load=load.published,
        )

    registrar = registration_of(args, material, info, port, txt(ServerState.SERVING))
    ops_server = None
    if args.metrics is not None:
        endpoint = OpsEndpoint(shared, (lambda: registrar.status) if registrar is not None else None)
        try:
            ops_server, (ops_host, ops_port) = await endpoint.start(*args.metrics)
        except OSError as error:
            host, port = args.metrics
            raise SystemExit(
                f"pingpong-server: cannot serve metrics on {host}:{port}: {error.strerror}"
            ) from None
        shown = f"[{ops_host}]:{ops_port}" if ":" in ops_host else f"{ops_host}:{ops_port}"
        print(f"pingpong-server metrics on http://{shown}/metrics (and /healthz, /readyz)", flush=True)

    # The registration outlives the drain: it says "draining", then leaves.
    unregister = asyncio.Event()
    registering = asyncio.create_task(registrar.run(unregister)) if registrar is not None else None
    if registering is not None:
        registering.add_done_callback(report_crash("DNS registration"))
    advertiser = None
    following: asyncio.Task[None] | None = None
    if not args.no_mdns:
        advertiser = Advertiser(info.instance, port, txt(ServerState.SERVING), addresses, args.mdns_interface)
        await advertiser.start()
        print(f"pingpong-server advertising {advertiser.name} over mDNS", flush=True)
        following = asyncio.create_task(
            follow_addresses(advertiser, args.listen[0], args.mdns_interface or [], stop)
        )

    # New certificates on disk reach new sessions, the TXT `fp` and the metric.
    pending_updates: set[asyncio.Task[None]] = set()

    def publish_txt() -> None:
        """Sends the current TXT record out over mDNS and to the DNS zone."""
        if advertiser is not None:
            update = asyncio.create_task(advertiser.update(txt(ServerState.SERVING)))
            pending_updates.add(update)
            update.add_done_callback(pending_updates.discard)
        if registrar is not None:
            registrar.update_txt(txt(ServerState.SERVING))

    def reloaded(new: ServerMaterial) -> None:
        nonlocal material
        material = new
        shared.certificate_not_after = new.not_after()
        publish_txt()

    reloading = asyncio.create_task(
        reload_certificates(watcher, listener, shared, args.allow_client, reloaded)
    )

    async def publish_load() -> None:
        """The sessions in use go out as TXT `load` when they change enough."""
        while True:
            await asyncio.sleep(LOAD_POLL)
            now = per_mille(len(shared.sessions), shared.max_sessions)
            if load.next(now, loop.time()) is not None:
                log.debug("publishing load=%d", now)
                publish_txt()

    publishing = asyncio.create_task(publish_load())
    reloading.add_done_callback(report_crash("certificate reload"))
    publishing.add_done_callback(report_crash("load publishing"))

    await stop.wait()
    # Drain: discovery says "draining", sessions are told to move and keep
    # being answered until they go (or the drain timeout), new ones are refused.
    # Readiness first, then the log line: whoever acts on "draining" in the log
    # finds /readyz already answering 503.
    shared.draining = True
    log.info("draining sessions=%d", len(shared.sessions))
    # Nothing may publish `state=serving` again: no reload, no load updates.
    for task in (reloading, publishing):
        task.cancel()
    await asyncio.gather(reloading, publishing, return_exceptions=True)
    if following is not None:
        # It returns once `stop` is set; whatever it died of must not stop the drain.
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
    if advertiser is not None:
        try:
            await advertiser.update(txt(ServerState.DRAINING))
        except Exception as error:  # zeroconf stopped, network down: drain anyway
            log.warning("cannot advertise state=draining: %s", error)
    if registrar is not None:
        registrar.update_txt(txt(ServerState.DRAINING))
    shared.drain_sessions()
    remaining = await shared.wait_until_idle(args.drain_timeout + 0.5)
    if remaining:
        log.warning("sessions still open after the drain timeout remaining=%d", remaining)
    if advertiser is not None:
        try:
            await advertiser.stop()
        except Exception as error:
            log.warning("cannot send the mDNS goodbye: %s", error)
    if registering is not None:
        # It removes this server's records and ends.
        unregister.set()
        await asyncio.gather(registering, return_exceptions=True)
    if ops_server is not None:
        ops_server.close()
    listener.close()
    log.info("stopped (answered %d pings)", shared.pings)
    print("pingpong-server stopped", flush=True)
    return 0


def report_crash(what: str) -> Callable[[asyncio.Task[None]], None]:
    """A done-callback that logs a background task ending by an exception
    (which asyncio would otherwise keep silent until the task is awaited)."""

    def done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped by an internal error: %r", what, task.exception())

    return done


def registration_of(
    args: argparse.Namespace, material: ServerMaterial, info: ServerInfo, port: int, txt: dict[str, str]
) -> Registrar | None:
    """The registrar for `--register-dns`, or None."""
    if args.register_dns is None:
        if args.register_server or args.tsig_key:
            raise SystemExit(
                "pingpong-server: --register-server and --tsig-key only apply with --register-dns ZONE"
            )
        return None
    if args.tsig_key is None:
        raise SystemExit(
            "pingpong-server: --register-dns needs --tsig-key FILE: the DNS server must know who may update "
            "the zone (make a key with `tsig-keygen NAME > FILE` and allow it in the zone)"
        )
    try:
        key = parse_key(args.tsig_key.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"pingpong-server: cannot use the TSIG key {args.tsig_key}: {error}") from None
    zone = dns.name.from_text(args.register_dns)
    try:
        host, warning = choose_host(zone, args.register_host, names(material.chain[0]), local_hostname())
        registration = Registration(
            zone=zone,
            instance=info.instance,
            host=host,
            port=port,
            priority=args.srv_priority,
            weight=args.srv_weight,
            txt=tuple(txt.items()),
            addresses=(),
            ttl=int(args.register_ttl),
        )
        registration.name()
    except ValueError as error:
        raise SystemExit(f"pingpong-server: cannot register in {args.register_dns}: {error}") from None
    if warning is not None:
        log.warning("%s", warning)
    listen_host = args.listen[0]

    def addresses() -> list[str]:
        if args.register_address:
            return sorted(set(args.register_address))
        return sorted(a for a in advertised_addresses(listen_host) if routable(a, listen_host))

    registration = replace(registration, addresses=tuple(addresses()))
    return Registrar(
        registration,
        key,
        args.register_server,
        (info.server_id.hex(), material.fingerprint),
        args.register_refresh,
        None if args.register_address else addresses,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pingpong-server` console script."""
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        return asyncio.run(run(args))
    except CertificateError as error:
        print(f"pingpong-server: {error}", file=sys.stderr)
        return 1
