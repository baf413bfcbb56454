//! The flags of wide-area registration: `server --register-dns ZONE ...` and
//! `publish --register-dns ZONE ...`, and the DNS server and key that `dns
//! prune` shares with them.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use pingpong::discovery::register::{RegistrationOptions, TsigKey, DEFAULT_REFRESH, DEFAULT_TTL};

use super::args::{parse_dns_name, parse_dns_server, parse_positive_seconds};

/// A zone to register in (or prune): a DNS name with room under it for every
/// instance name, checked where it is given.
pub(crate) fn parse_zone(s: &str) -> Result<String, String> {
    let zone = parse_dns_name(s)?;
    match pingpong::discovery::register::zone_name(&zone) {
        Ok(_) => Ok(zone),
        Err(pingpong::discovery::register::RegisterError::BadName { reason, .. }) => Err(reason),
        Err(other) => Err(other.to_string()),
    }
}

/// Where updates go and how they are signed.
#[derive(Args, Clone)]
pub(crate) struct UpdateServerArgs {
    /// DNS server that takes the zone's updates, IP or IP:PORT (default: the
    /// zone's primary, from its SOA record).
    #[arg(long = "register-server", value_name = "IP[:PORT]", value_parser = parse_dns_server)]
    pub(crate) register_server: Option<SocketAddr>,
    /// TSIG key that signs the updates, in BIND's format (`tsig-keygen NAME`).
    #[arg(long = "tsig-key", value_name = "FILE")]
    pub(crate) tsig_key: Option<PathBuf>,
}

impl UpdateServerArgs {
    /// The key, read; `--tsig-key` is required with `flag`.
    pub(crate) fn key(&self, flag: &str) -> Result<TsigKey> {
        let Some(path) = &self.tsig_key else {
            anyhow::bail!(
                "{flag} needs --tsig-key FILE: the DNS server must know who may update the zone (make a key with `tsig-keygen NAME > FILE` and allow it in the zone)"
            );
        };
        Ok(TsigKey::read(path)?)
    }
}

/// The registration flags of `pingpong server` and `pingpong publish`.
#[derive(Args)]
pub(crate) struct RegisterArgs {
    /// Register in DNS zone ZONE as well (DNS-SD over unicast DNS, RFC 2136
    /// dynamic update), so that browsers on other subnets find it with
    /// --dns-sd ZONE.
    #[arg(long = "register-dns", value_name = "ZONE", value_parser = parse_zone)]
    register_dns: Option<String>,
    #[command(flatten)]
    update: UpdateServerArgs,
    /// SRV target host name to register (relative to the zone, or full;
    /// default: a server's certificate name in the zone, else the host name).
    #[arg(long = "register-host", value_name = "NAME", requires = "register_dns")]
    register_host: Option<String>,
    /// Address to register instead of the ones listened on or advertised
    /// (repeatable; for a host behind NAT).
    #[arg(
        long = "register-address",
        value_name = "IP",
        requires = "register_dns"
    )]
    register_addresses: Vec<IpAddr>,
    /// SRV priority: clients use the lowest priority whose servers answer
    /// (RFC 2782); a higher one keeps this one as a standby.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "register_dns")]
    srv_priority: u16,
    /// SRV weight: among servers of one priority, each gets new clients in
    /// proportion to its weight (95 and 5 send about 5 % to the second).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100,
        requires = "register_dns"
    )]
    srv_weight: u16,
    /// TTL of the registered records, in seconds: how long caches keep them
    /// [default: 10].
    #[arg(long = "register-ttl", value_name = "SECONDS", value_parser = parse_positive_seconds, requires = "register_dns")]
    register_ttl: Option<Duration>,
    /// Seconds between checks that the records are still in the zone (they
    /// are rewritten if not) [default: 30].
    #[arg(long = "register-refresh", value_name = "SECONDS", value_parser = parse_positive_seconds, requires = "register_dns")]
    register_refresh: Option<Duration>,
}

impl RegisterArgs {
    /// The options, when `--register-dns` was given.
    pub(crate) fn options(&self) -> Result<Option<RegistrationOptions>> {
        let Some(zone) = &self.register_dns else {
            if self.update.register_server.is_some() || self.update.tsig_key.is_some() {
                anyhow::bail!(
                    "--register-server and --tsig-key only apply with --register-dns ZONE"
                );
            }
            return Ok(None);
        };
        Ok(Some(RegistrationOptions {
            zone: zone.clone(),
            server: self.update.register_server,
            key: self.update.key("--register-dns")?,
            host: self.register_host.clone(),
            addresses: self.register_addresses.clone(),
            priority: self.srv_priority,
            weight: self.srv_weight,
            ttl: self.register_ttl.unwrap_or(DEFAULT_TTL),
            refresh: self.register_refresh.unwrap_or(DEFAULT_REFRESH),
        }))
    }
}
