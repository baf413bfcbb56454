//! `pingpong publish NAME TYPE PORT [KEY=VALUE...]`: announces a service of
//! any type over mDNS until stopped, as `avahi-publish -s` and `dns-sd -R` do,
//! with the server's rules: only the addresses of the interfaces chosen,
//! followed as they change; a name taken elsewhere renamed (`NAME (2)`); a
//! goodbye (TTL 0) on SIGINT/SIGTERM.

use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use pingpong::discovery::mdns::{Advertisement, Advertiser};
use pingpong::discovery::publisher::Publisher;

use super::args::{parse_service_type, MdnsArgs};
use super::output::say;

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
    let ad = Advertisement {
        service_type: args.service_type.clone(),
        instance: args.name.clone(),
        listen,
        txt: args.txt.clone(),
        interfaces: args.mdns.interfaces.clone(),
    };
    let advertiser = Advertiser::start(&ad)?;
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
    let publisher: Box<dyn Publisher> = Box::new(advertiser);
    stop.cancelled().await;
    publisher.withdraw().await;
    Ok(ExitCode::SUCCESS)
}
