//! `pingpong publish NAME TYPE PORT [KEY=VALUE...]`: announces a service of
//! any type over mDNS until stopped, as `avahi-publish -s` and `dns-sd -R` do,
//! with the server's rules: only the addresses of the interfaces chosen,
//! followed as they change; a name taken elsewhere renamed (`NAME (2)`); a
//! goodbye (TTL 0) on SIGINT/SIGTERM. With `--register-dns ZONE` it also
//! registers the service in a DNS zone (RFC 2136, signed with TSIG) as a
//! server does, and removes it on stop; there an instance is this
//! publisher's when its SRV points at this host and port.

use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use pingpong::discovery::mdns::{Advertisement, Advertiser};
use pingpong::discovery::publisher::Publisher;
use pingpong::discovery::register::records::Owner;
use pingpong::discovery::register::{Identity, Registrar, RegistrationStatus};

use super::args::{parse_service_type, MdnsArgs};
use super::output::say;
use super::register::RegisterArgs;

#[derive(Args)]
pub(crate) struct PublishArgs {
    /// Instance name: one DNS label, at most 63 bytes (spaces, dots and UTF-8
    /// allowed).
    name: String,
    /// Service type: `_http._tcp`, `_myapp._udp` (`.local.` is added).
    #[arg(value_parser = parse_service_type)]
    service_type: String,
    /// Port the service listens on.
    #[arg(value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// TXT record entries, `KEY=VALUE` (RFC 6763 §6; a value may hold `=`).
    #[arg(value_name = "KEY=VALUE", value_parser = parse_txt_pair)]
    txt: Vec<(String, String)>,
    /// Advertise only the IPv4 addresses (the default: IPv4 and IPv6).
    #[arg(short = '4', long = "ipv4", conflicts_with = "address")]
    ipv4: bool,
    /// Advertise this address only (one the machine has), as a server
    /// listening on that IP alone.
    #[arg(long, value_name = "IP")]
    address: Option<std::net::IpAddr>,
    #[command(flatten)]
    mdns: MdnsArgs,
    /// Do not announce over mDNS (with --register-dns: DNS only).
    #[arg(long, requires = "register_dns")]
    no_mdns: bool,
    #[command(flatten)]
    register: RegisterArgs,
}

/// One TXT entry: a key of printable ASCII without `=` (RFC 6763 §6.4), 1
/// to 9 characters recommended and at most 64 here, then `=` and the value.
fn parse_txt_pair(s: &str) -> Result<(String, String), String> {
    let (key, value) = s.split_once('=').unwrap_or((s, ""));
    let printable = key.bytes().all(|b| (0x20..0x7f).contains(&b));
    if key.is_empty() || key.len() > 64 || !printable {
        return Err("a TXT entry is KEY=VALUE, KEY of 1 to 64 printable ASCII characters".into());
    }
    if key.len() + 1 + value.len() > 255 {
        return Err("a TXT entry is at most 255 bytes (RFC 6763 §6.1)".into());
    }
    Ok((key.to_string(), value.to_string()))
}

/// Runs `pingpong publish`.
pub(crate) async fn run(args: PublishArgs) -> Result<ExitCode> {
    let stop = pingpong::shutdown::on_signals().context("cannot install signal handlers")?;
    // The addresses follow the server's listen rule: `[::]` advertises every
    // IPv6 and IPv4 address, `0.0.0.0` the IPv4 ones, one IP that one.
    let listen: SocketAddr = match (args.address, args.ipv4) {
        (Some(ip), _) => SocketAddr::new(ip, args.port),
        (None, true) => SocketAddr::from(([0, 0, 0, 0], args.port)),
        (None, false) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, args.port)),
    };
    // Every setting is checked before anything is announced, so that a
    // mistake leaves nothing behind on the link or in the zone.
    let registration = match args.register.options()? {
        Some(options) => Some((options, dns_service(&args.service_type)?)),
        None => None,
    };
    let mut publishers: Vec<Box<dyn Publisher>> = Vec::new();
    if !args.no_mdns {
        publishers.push(Box::new(advertise(&args, listen)?));
    }
    if let Some((options, service)) = registration {
        match register(&args, options, service, listen) {
            Ok(registrar) => publishers.push(Box::new(registrar)),
            Err(error) => {
                withdraw(publishers).await;
                return Err(error);
            }
        }
    }
    stop.cancelled().await;
    withdraw(publishers).await;
    Ok(ExitCode::SUCCESS)
}

/// Withdraws every announcement: the mDNS goodbye, the zone's records.
async fn withdraw(publishers: Vec<Box<dyn Publisher>>) {
    futures::future::join_all(publishers.into_iter().map(|p| p.withdraw())).await;
}

/// The service type as registered in a zone (`_http._tcp`); a subtype is
/// refused, since only its main type is registered.
fn dns_service(service_type: &str) -> Result<String> {
    let service = service_type.trim_end_matches(".local.");
    if let Some((_, main)) = service.rsplit_once("._sub.") {
        anyhow::bail!(
            "--register-dns registers a service type, not a subtype: give {main} (subtypes are announced over mDNS only)"
        );
    }
    Ok(service.to_string())
}

/// Starts the mDNS announcement and says where.
fn advertise(args: &PublishArgs, listen: SocketAddr) -> Result<Advertiser> {
    let ad = Advertisement {
        service_type: args.service_type.clone(),
        instance: args.name.clone(),
        listen,
        txt: args.txt.clone(),
        interfaces: args.mdns.interfaces.clone(),
    };
    let advertiser = Advertiser::start(&ad).map_err(|error| {
        anyhow::anyhow!("cannot publish over mDNS: {error} (with --register-dns, --no-mdns publishes in DNS only)")
    })?;
    let addresses: Vec<String> = advertiser
        .addresses()
        .iter()
        .map(ToString::to_string)
        .collect();
    say!(
        "publishing {:?} {} on {} port {} ({})",
        args.name,
        args.service_type,
        advertiser.host(),
        args.port,
        addresses.join(", ")
    );
    std::io::stdout().flush().ok();
    Ok(advertiser)
}

/// Starts the DNS registration; a line says when it is in the zone (and
/// under which name), failures are logged and retried.
fn register(
    args: &PublishArgs,
    options: pingpong::discovery::register::RegistrationOptions,
    service: String,
    listen: SocketAddr,
) -> Result<Registrar> {
    let said = service.clone();
    let identity = Identity {
        instance: args.name.clone(),
        service,
        owner: Owner::Endpoint,
        cert_names: Vec::new(),
    };
    let on_status = Box::new(move |status: &RegistrationStatus| {
        if let RegistrationStatus::Registered { instance, zone } = status {
            say!("registered {instance:?} {said} in DNS zone {zone}");
            std::io::stdout().flush().ok();
        }
    });
    Ok(Registrar::start(
        options,
        identity,
        listen,
        args.txt.clone(),
        on_status,
    )?)
}
