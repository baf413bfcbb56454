//! Flags several commands share: certificates ([`TlsArgs`]), mDNS interfaces
//! ([`MdnsArgs`]), discovery sources ([`SourceArgs`]) and ping options
//! ([`PingArgs`]), with the parsers of their values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use pingpong::client::run::Liveness;

use super::output::PerPing;
use pingpong::client::PingOptions;
use pingpong::discovery::dns::{self, DnsConfig, DnsQuery};
use pingpong::discovery::{AddressFamily, Candidate, DiscoveryConfig, MdnsBrowse};
use pingpong::service::SERVICE_TYPE;
use pingpong::tls::{store, CertPaths, LeafRole, TlsMaterial};

/// Where certificates come from.
#[derive(Args)]
pub(crate) struct TlsArgs {
    /// Certificate folder (default: $PINGPONG_HOME, else ~/.local/share/pingpong).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// Own certificate (PEM); default: the folder's server.pem for `server`,
    /// client.pem for the other commands.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(crate) cert: Option<PathBuf>,
    /// Own private key (PEM); default: the key beside that certificate
    /// (server.key, client.key).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
    /// CA certificate that peers must chain to (PEM); default: ca.pem in the folder.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
}

impl TlsArgs {
    /// The files to use; with no flag at all, a development CA is created if the
    /// folder is empty.
    pub(crate) fn material(&self, role: LeafRole) -> Result<TlsMaterial> {
        let paths = CertPaths::new(self.dir.clone().unwrap_or_else(pingpong::tls::default_home));
        if self.cert.is_none() && self.ca.is_none() {
            if let Some(created) = store::ensure_development_pki(&paths, role)? {
                eprintln!("pingpong: {created}");
            }
        }
        let defaults = TlsMaterial::from_dir(&paths, role);
        let material = TlsMaterial {
            cert: self.cert.clone().unwrap_or(defaults.cert),
            key: self.key.clone().unwrap_or(defaults.key),
            ca: self.ca.clone().unwrap_or(defaults.ca),
        };
        for (what, path) in [
            ("certificate", &material.cert),
            ("key", &material.key),
            ("CA certificate", &material.ca),
        ] {
            if !path.exists() {
                bail!(
                    "{what} file {} does not exist. Fix: pass --{} FILE, or create it with `pingpong certs`",
                    path.display(),
                    match what { "certificate" => "cert", "key" => "key", _ => "ca" }
                );
            }
        }
        if let Some(warning) = material.check(role)? {
            eprintln!("pingpong: warning: {warning}");
        }
        Ok(material)
    }
}

/// The IP version to use, for every command that discovers or connects.
#[derive(Args)]
pub(crate) struct FamilyArgs {
    /// Use IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    ipv4: bool,
    /// Use IPv6 only.
    #[arg(short = '6')]
    ipv6: bool,
}

impl FamilyArgs {
    /// The family chosen (either, by default).
    pub(crate) fn family(&self) -> AddressFamily {
        match (self.ipv4, self.ipv6) {
            (true, _) => AddressFamily::V4,
            (_, true) => AddressFamily::V6,
            _ => AddressFamily::Any,
        }
    }

    /// Refuses a server given as an IP address of the other version (`-6
    /// 127.0.0.1`), which would otherwise be used anyway or never reached.
    pub(crate) fn check_target(&self, candidate: &Candidate) -> Result<()> {
        let family = self.family();
        if let Ok(ip) = candidate
            .host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
        {
            let addr = SocketAddr::new(ip, candidate.port);
            if !family.allows(&addr) {
                let (version, flag, wanted) = if ip.is_ipv4() {
                    ("IPv4", "-6", "IPv6")
                } else {
                    ("IPv6", "-4", "IPv4")
                };
                bail!(
                    "{ip} is an {version} address, but {flag} asks for {wanted} only. Fix: drop {flag}, or give an {wanted} address"
                );
            }
        }
        Ok(())
    }
}

/// mDNS settings shared by the commands that use it.
#[derive(Args)]
pub(crate) struct MdnsArgs {
    /// Use mDNS only on this interface (repeatable; default: every interface).
    #[arg(long = "mdns-interface", value_name = "NAME")]
    pub(crate) interfaces: Vec<String>,
}

/// Where to look for servers (client and discover).
#[derive(Args)]
pub(crate) struct SourceArgs {
    /// Resolve SRV records at NAME (`_pingpong._udp.` is prepended unless NAME
    /// starts with a `_service._udp.` label; short names use the search list).
    #[arg(long, value_name = "NAME", env = "PINGPONG_DNS", value_parser = parse_dns_name)]
    pub(crate) dns: Option<String>,
    /// Browse unicast DNS-SD: PTR `_pingpong._udp.DOMAIN` (repeatable).
    #[arg(long = "dns-sd", value_name = "DOMAIN")]
    pub(crate) dns_sd: Vec<String>,
    /// DNS server to ask (repeatable; default: the system's, from /etc/resolv.conf).
    #[arg(long = "dns-server", value_name = "IP[:PORT]", value_parser = parse_dns_server)]
    pub(crate) dns_servers: Vec<SocketAddr>,
    /// Seconds to wait for a DNS answer.
    #[arg(long, default_value = "2", value_parser = parse_positive_seconds)]
    pub(crate) dns_timeout: Duration,
    /// Browse mDNS as well when a DNS source is given (without one, mDNS is used).
    #[arg(long = "mdns")]
    pub(crate) with_mdns: bool,
    /// Do not learn DNS-SD browse domains from the network (without a DNS
    /// flag, the search list's `b._dns-sd._udp` records are browsed beside mDNS).
    #[arg(long, env = "PINGPONG_NO_BROWSE_DOMAINS", value_parser = clap::builder::FalseyValueParser::new())]
    pub(crate) no_browse_domains: bool,
    #[command(flatten)]
    pub(crate) mdns: MdnsArgs,
}

impl SourceArgs {
    /// How long to wait for discovery, given what the user asked: a DNS
    /// answer (or its failure) takes up to the DNS timeout over UDP and again
    /// over TCP, so DNS alone is waited for rather than given up on first.
    pub(crate) fn patience(&self, config: &DiscoveryConfig, asked: Duration) -> Duration {
        if config.mdns.is_none() {
            asked.max(config.dns_config.timeout * 2 + Duration::from_secs(1))
        } else {
            asked
        }
    }

    /// The sources for pingpong's own servers.
    pub(crate) fn config(&self) -> DiscoveryConfig {
        self.config_for(SERVICE_TYPE)
    }

    /// The sources for `service_type` (`_http._tcp.local.`, checked): mDNS
    /// browses it, and DNS names start with it (`_http._tcp.NAME`).
    pub(crate) fn config_for(&self, service_type: &str) -> DiscoveryConfig {
        let service = service_type.trim_end_matches(".local.").to_string();
        let mut dns: Vec<DnsQuery> = self
            .dns
            .iter()
            .map(|n| DnsQuery::Srv(dns::service_name(&service, n)))
            .collect();
        dns.extend(
            self.dns_sd
                .iter()
                .map(|d| DnsQuery::Browse(dns::service_name(&service, d))),
        );
        let mdns = (dns.is_empty() || self.with_mdns).then(|| MdnsBrowse {
            service_type: service_type.to_string(),
            interfaces: self.mdns.interfaces.clone(),
        });
        // No DNS flag: the browse domains the network announces, beside mDNS.
        if dns.is_empty() && !self.no_browse_domains {
            dns.push(DnsQuery::Learnt);
        }
        DiscoveryConfig {
            mdns,
            dns,
            dns_config: DnsConfig {
                servers: self.dns_servers.clone(),
                timeout: self.dns_timeout,
                service,
            },
            fixed: Vec::new(),
        }
    }
}

pub(crate) fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{s:?} is not IP or IP:PORT"))
}

#[derive(Args)]
pub(crate) struct PingArgs {
    /// Number of pings; 0 pings until interrupted (Ctrl-C prints the summary).
    #[arg(short = 'c', long, default_value_t = 10, allow_negative_numbers = true, value_parser = parse_count)]
    pub(crate) count: u64,
    /// Seconds between pings (fractions allowed; 0 sends as fast as the window
    /// allows) [default: 1, or 0 with -f].
    #[arg(short = 'i', long, value_parser = parse_seconds)]
    pub(crate) interval: Option<Duration>,
    /// Payload bytes per ping (at most 65520: one frame).
    #[arg(short = 's', long, default_value_t = 56, value_parser = clap::value_parser!(u32).range(0..=PingOptions::MAX_PAYLOAD as i64))]
    pub(crate) size: u32,
    /// Seconds to wait for each pong.
    #[arg(short = 'W', long, default_value = "2", value_parser = parse_positive_seconds)]
    pub(crate) timeout: Duration,
    /// Most pings unanswered at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) in_flight: u32,
    /// Output: one JSON object per line.
    #[arg(long)]
    pub(crate) json: bool,
    /// Quiet: print the header and the summary only.
    #[arg(short = 'q', long, conflicts_with = "flood")]
    pub(crate) quiet: bool,
    /// Flood, as ping(8): a dot per ping sent, a backspace per pong, so what
    /// stays on screen is the loss; pings as fast as the window allows unless
    /// -i is given.
    #[arg(short = 'f', long, conflicts_with = "json")]
    pub(crate) flood: bool,
}

impl PingArgs {
    /// What is printed per ping.
    pub(crate) fn per_ping(&self) -> PerPing {
        match (self.quiet, self.flood) {
            (true, _) => PerPing::Quiet,
            (_, true) => PerPing::Flood,
            _ => PerPing::Lines,
        }
    }

    pub(crate) fn options(&self) -> PingOptions {
        PingOptions {
            count: (self.count > 0).then_some(self.count),
            interval: self.interval.unwrap_or(if self.flood {
                Duration::ZERO
            } else {
                Duration::from_secs(1)
            }),
            payload_size: self.size as usize,
            timeout: self.timeout,
            in_flight: self.in_flight as usize,
            liveness: Liveness::Ignore,
        }
    }
}

/// A ping count: a whole number, 0 meaning endless (`-c -1` is refused with
/// that, not with clap's hint about `--`).
pub(crate) fn parse_count(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| {
        format!("{s:?} is not a number of pings: give 1 or more, or 0 to ping until interrupted")
    })
}

/// A service name for `--dns`; an address there is the DNS server, which
/// `--dns-server` takes.
pub(crate) fn parse_dns_name(s: &str) -> Result<String, String> {
    if s.parse::<std::net::IpAddr>().is_ok() || s.parse::<SocketAddr>().is_ok() {
        return Err(format!(
            "{s:?} is an address, and --dns takes the service's DNS name (pingpong, or pingpong.default.svc.cluster.local). To ask the DNS server at {s}, add --dns-server {s}"
        ));
    }
    Ok(s.to_string())
}

/// A listen address: `IP:PORT`, `[IPv6]:PORT`, or `HOST:PORT` (its first
/// address, as the system resolves it: `localhost:4433`).
pub(crate) fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    use std::net::ToSocketAddrs;
    let looks_right = s
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !looks_right {
        return Err(format!(
            "{s:?} is not HOST:PORT or IP:PORT (for example [::]:4433, 0.0.0.0:4433, localhost:4433)"
        ));
    }
    s.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            format!("{s:?}: its host name does not resolve on this machine; give an IP address")
        })
}

pub(crate) fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("{s:?} must be between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub(crate) fn parse_positive_seconds(s: &str) -> Result<Duration, String> {
    let d = parse_seconds(s)?;
    if d.is_zero() {
        return Err("must be more than 0 seconds".into());
    }
    Ok(d)
}

/// A service type as users write it (`_http._tcp`, `_http._tcp.local.`,
/// `_printer._sub._http._tcp`), as mDNS browses it: `.local.` at the end.
pub(crate) fn parse_service_type(s: &str) -> Result<String, String> {
    let bare = s.trim().trim_end_matches('.');
    let bare = bare.strip_suffix(".local").unwrap_or(bare);
    let full = format!("{bare}.local.");
    pingpong::discovery::mdns::check_service_type(&full).map_err(|e| e.to_string())?;
    Ok(full)
}

pub(crate) fn parse_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s.contains(char::is_whitespace) {
        return Err("a path starts with '/' and has no spaces".into());
    }
    Ok(s.to_string())
}
