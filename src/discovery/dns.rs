//! Unicast DNS discovery with hickory-resolver: SRV (RFC 2782) as Kubernetes
//! headless Services publish it, and DNS-SD browsing (RFC 6763: PTR → SRV + TXT).
//!
//! Everything in an answer is untrusted input and is validated like mDNS
//! records are; nothing is trusted until TLS has verified the server.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::rdata::SRV;
use hickory_resolver::proto::rr::{RData, Record};
use hickory_resolver::TokioResolver;
use tokio::sync::{mpsc, Notify};
use tracing::{debug, warn};

use super::srv::SrvInfo;
use super::txt::ServerTxt;
use super::{Candidate, DiscoveryEvent, Source};
use crate::text::truncate;

/// The service label pingpong's SRV names start with.
pub const SERVICE_PREFIX: &str = "_pingpong._udp.";

/// A DNS answer is given up on after this long. hickory's default (5 s × 2
/// attempts, per server) makes a CLI wait 15 s for a dead server; two seconds is
/// ample on a LAN or in a cluster, where answers take milliseconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Re-resolution never happens more often than this, whatever the TTL says
/// (TTL 0 records would otherwise make a busy loop).
const MIN_REFRESH: Duration = Duration::from_secs(1);
/// Nor less often than this, so that a long TTL does not hide a changed record
/// for hours.
const MAX_REFRESH: Duration = Duration::from_secs(300);
/// Longest name accepted from an answer (RFC 1035).
const MAX_NAME_LEN: usize = 253;

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Name servers to ask; empty means the system's (`/etc/resolv.conf`, with its
    /// search list and `ndots`).
    pub servers: Vec<SocketAddr>,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Why a DNS lookup gave nothing usable; each message names the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsLookupError {
    /// NXDOMAIN.
    #[error("{name} does not exist (NXDOMAIN): check the service and namespace names")]
    NoSuchName {
        /// The name asked for.
        name: String,
    },
    /// The name exists but has no record of the type asked.
    #[error("{name} has no {kind} records (NODATA): is the Service headless with a UDP port named \"pingpong\"?")]
    NoRecords {
        /// The name asked for.
        name: String,
        /// SRV, PTR, A/AAAA...
        kind: &'static str,
    },
    /// SRV target "." (RFC 2782: decidedly not available).
    #[error("{name} says the service is not available here (SRV target \".\")")]
    NotAvailable {
        /// The name asked for.
        name: String,
    },
    /// No SRV target has an address.
    #[error("no SRV target of {name} has an address: {targets}")]
    NoAddress {
        /// The name asked for.
        name: String,
        /// The targets, comma-separated.
        targets: String,
    },
    /// Nothing answered.
    #[error(
        "no answer from the DNS server{servers} within {timeout:?}: is it running and reachable?"
    )]
    Timeout {
        /// ` at 10.0.0.1:53`, or empty for the system's servers.
        servers: String,
        /// The per-attempt timeout.
        timeout: Duration,
    },
    /// The server refused or failed.
    #[error("the DNS server answered {code} for {name}")]
    ServerError {
        /// The name asked for.
        name: String,
        /// The response code.
        code: String,
    },
    /// The name is not a valid DNS name.
    #[error("invalid DNS name {name:?}: {reason}")]
    BadName {
        /// The name given.
        name: String,
        /// Why.
        reason: String,
    },
    /// A record was ignored (malformed TXT, a target without address, ...).
    #[error("ignored: {0}")]
    Ignored(String),
    /// Any other resolver failure.
    #[error("DNS lookup of {name} failed: {reason}")]
    Other {
        /// The name asked for.
        name: String,
        /// The resolver's complaint.
        reason: String,
    },
}

/// The SRV name for what a user typed: a full `_pingpong._udp.NAME` (or any
/// other `_service._proto.` name) is used as given; anything else gets
/// `_pingpong._udp.` in front, so `pingpong.default.svc.cluster.local` and the
/// short `pingpong` (expanded by the search list) both work.
pub fn srv_name(input: &str) -> String {
    let labels: Vec<&str> = input.split('.').collect();
    let already_service = labels.len() >= 2
        && labels[0].starts_with('_')
        && (labels[1] == "_udp" || labels[1] == "_tcp");
    if already_service {
        input.to_string()
    } else {
        format!("{SERVICE_PREFIX}{input}")
    }
}

/// The DNS-SD browse name of a domain: `_pingpong._udp.DOMAIN`.
pub fn browse_name(domain: &str) -> String {
    srv_name(domain)
}

/// What to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DnsQuery {
    /// SRV records at this name (already expanded with [`srv_name`]).
    Srv(String),
    /// DNS-SD: PTR records at this name, each an instance with SRV + TXT.
    Browse(String),
}

impl DnsQuery {
    fn name(&self) -> &str {
        match self {
            DnsQuery::Srv(n) | DnsQuery::Browse(n) => n,
        }
    }
}

/// The candidates a query found, and how long they may be kept.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// One per usable SRV record.
    pub candidates: Vec<Candidate>,
    /// Smallest TTL of the records used.
    pub ttl: Duration,
    /// Records that were skipped, with the reason (for warnings).
    pub skipped: Vec<String>,
}

/// A configured resolver.
#[derive(Clone)]
pub struct DnsResolver {
    inner: Arc<TokioResolver>,
    config: DnsConfig,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResolver")
            .field("config", &self.config)
            .finish()
    }
}

impl DnsResolver {
    /// A resolver for `config`.
    pub fn new(config: &DnsConfig) -> Result<Self, DnsLookupError> {
        let other = |reason: String| DnsLookupError::Other {
            name: String::new(),
            reason,
        };
        let (resolver_config, mut opts) = if config.servers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| other(format!("cannot read the system DNS configuration: {e}")))?
        } else {
            let servers = config
                .servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                    server.connections = vec![udp, tcp];
                    server
                })
                .collect();
            (
                ResolverConfig::from_name_servers(servers),
                ResolverOpts::default(),
            )
        };
        opts.timeout = config.timeout;
        opts.attempts = 1;
        // Follow the records' TTLs: Kubernetes gives 5 s, and pods come and go.
        opts.positive_max_ttl = Some(MAX_REFRESH);
        let inner = TokioResolver::builder_with_config(resolver_config, Default::default())
            .with_options(opts)
            .build()
            .map_err(|e| other(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(inner),
            config: config.clone(),
        })
    }

    fn servers_text(&self) -> String {
        match self.config.servers.as_slice() {
            [] => String::new(),
            servers => format!(
                " at {}",
                servers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn lookup_error(&self, name: &str, kind: &'static str, error: NetError) -> DnsLookupError {
        match error {
            NetError::Dns(DnsError::NoRecordsFound(no))
                if no.response_code == ResponseCode::NXDomain =>
            {
                DnsLookupError::NoSuchName {
                    name: name.to_string(),
                }
            }
            NetError::Dns(DnsError::NoRecordsFound(_)) => DnsLookupError::NoRecords {
                name: name.to_string(),
                kind,
            },
            NetError::Dns(DnsError::ResponseCode(code)) => DnsLookupError::ServerError {
                name: name.to_string(),
                code: code.to_string(),
            },
            NetError::Timeout | NetError::NoConnections => DnsLookupError::Timeout {
                servers: self.servers_text(),
                timeout: self.config.timeout,
            },
            NetError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                DnsLookupError::Timeout {
                    servers: self.servers_text(),
                    timeout: self.config.timeout,
                }
            }
            other => DnsLookupError::Other {
                name: name.to_string(),
                reason: other.to_string(),
            },
        }
    }

    /// Resolves `query` into candidates, in no particular order (the connector
    /// applies RFC 2782).
    pub async fn resolve(&self, query: &DnsQuery) -> Result<Resolution, DnsLookupError> {
        match query {
            DnsQuery::Srv(name) => self.resolve_srv(name, None).await,
            DnsQuery::Browse(name) => self.browse(name).await,
        }
    }

    async fn browse(&self, name: &str) -> Result<Resolution, DnsLookupError> {
        check_name(name)?;
        let ptrs = self
            .inner
            .reverse_lookup(name)
            .await
            .map_err(|e| self.lookup_error(name, "PTR", e))?;
        let mut out = Resolution {
            candidates: Vec::new(),
            ttl: MAX_REFRESH,
            skipped: Vec::new(),
        };
        for record in ptrs.answers() {
            let RData::PTR(ptr) = &record.data else {
                continue;
            };
            out.ttl = out.ttl.min(Duration::from_secs(u64::from(record.ttl)));
            let instance_name = ptr.0.to_ascii();
            let instance = instance_label(&instance_name, name);
            match self.resolve_srv(&instance_name, Some(instance)).await {
                Ok(found) => {
                    out.ttl = out.ttl.min(found.ttl);
                    out.candidates.extend(found.candidates);
                    out.skipped.extend(found.skipped);
                }
                Err(e) => out.skipped.push(format!("{instance_name}: {e}")),
            }
        }
        if out.candidates.is_empty() && !out.skipped.is_empty() {
            warn!(name, skipped = ?out.skipped, "DNS-SD instances unusable");
        }
        Ok(out)
    }

    /// SRV at `name`, the targets' addresses (from the additional section when
    /// present) and TXT at the same name.
    async fn resolve_srv(
        &self,
        name: &str,
        instance: Option<String>,
    ) -> Result<Resolution, DnsLookupError> {
        check_name(name)?;
        let lookup = match self.inner.srv_lookup(name).await {
            Ok(lookup) => lookup,
            Err(error) => {
                let error = self.lookup_error(name, "SRV", error);
                // Like glibc: when the search list ends in NXDOMAIN but the name
                // itself exists without SRV, NODATA is the true answer.
                if matches!(error, DnsLookupError::NoSuchName { .. }) && !name.ends_with('.') {
                    if let Err(e) = self.inner.srv_lookup(format!("{name}.")).await {
                        if let e @ DnsLookupError::NoRecords { .. } =
                            self.lookup_error(name, "SRV", e)
                        {
                            return Err(e);
                        }
                    }
                }
                return Err(error);
            }
        };
        let mut ttl = MAX_REFRESH;
        let mut records = Vec::new();
        for record in lookup.answers() {
            if let RData::SRV(srv) = &record.data {
                ttl = ttl.min(Duration::from_secs(u64::from(record.ttl)));
                records.push(srv.clone());
            }
        }
        if records.is_empty() {
            return Err(DnsLookupError::NoRecords {
                name: name.to_string(),
                kind: "SRV",
            });
        }
        if records.iter().all(|r| r.target.is_root()) {
            return Err(DnsLookupError::NotAvailable {
                name: name.to_string(),
            });
        }
        let additional = addresses_by_name(lookup.additionals());
        let (txt_pairs, txt) = self.txt(name).await;
        let mut out = Resolution {
            candidates: Vec::new(),
            ttl,
            skipped: Vec::new(),
        };
        let txt = match txt {
            Ok(txt) => txt,
            Err(reason) => {
                out.skipped
                    .push(format!("{name}: malformed TXT ignored: {reason}"));
                None
            }
        };
        for SrvTarget {
            host: target,
            port,
            info,
        } in srv_targets(&records, &mut out.skipped)
        {
            let ips = match additional.get(&target) {
                Some(ips) => ips.clone(),
                None => self.addresses(&target).await,
            };
            if ips.is_empty() {
                out.skipped.push(format!("{target}: no address"));
                continue;
            }
            let path = txt.as_ref().map_or_else(
                || crate::service::DEFAULT_PATH.to_string(),
                |t| t.path.clone(),
            );
            out.candidates.push(Candidate {
                key: format!("dns:{target}:{port}"),
                instance: instance.clone().unwrap_or_else(|| target.clone()),
                host: target,
                addresses: ips
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .collect(),
                port,
                path,
                source: Source::Dns,
                txt: txt.clone(),
                srv: Some(info),
                txt_pairs: txt_pairs.clone(),
            });
        }
        if out.candidates.is_empty() {
            return Err(DnsLookupError::NoAddress {
                name: name.to_string(),
                targets: records
                    .iter()
                    .map(|r| r.target.to_ascii())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(out)
    }

    /// TXT at `name`: the raw pairs, and the parsed pingpong TXT (`Ok(None)`
    /// when there is none, `Err` when it is malformed).
    async fn txt(&self, name: &str) -> (Vec<(String, String)>, Result<Option<ServerTxt>, String>) {
        let Ok(lookup) = self.inner.txt_lookup(name).await else {
            return (Vec::new(), Ok(None));
        };
        let mut pairs: HashMap<String, String> = HashMap::new();
        for record in lookup.answers() {
            if let RData::TXT(txt) = &record.data {
                for string in txt.txt_data.iter() {
                    let (key, value) = parse_txt_string(string);
                    // RFC 6763 §6.4: the first occurrence of a key wins.
                    pairs.entry(key).or_insert(value);
                }
            }
        }
        let raw = super::mdns::raw_pairs(pairs.iter().map(|(k, v)| (k.clone(), v.clone())));
        if pairs.is_empty() {
            return (raw, Ok(None));
        }
        let parsed = ServerTxt::parse(|key| pairs.get(key).map(String::as_str))
            .map(Some)
            .map_err(|e| e.to_string());
        (raw, parsed)
    }

    async fn addresses(&self, host: &str) -> Vec<IpAddr> {
        match self.inner.lookup_ip(format!("{host}.")).await {
            Ok(ips) => ips.iter().collect(),
            Err(e) => {
                debug!(host, error = %e, "SRV target has no address");
                Vec::new()
            }
        }
    }
}

/// RFC 6763 §6.3-6.5: split at the first `=`; a key without `=` is a boolean
/// (present, no value); keys are case-insensitive.
pub fn parse_txt_string(bytes: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(bytes);
    match text.split_once('=') {
        Some((key, value)) => (key.to_ascii_lowercase(), value.to_string()),
        None => (text.to_ascii_lowercase(), String::new()),
    }
}

fn check_name(name: &str) -> Result<(), DnsLookupError> {
    let bad = |reason: &str| DnsLookupError::BadName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN + 1 {
        return Err(bad("empty or longer than 253 characters"));
    }
    if name
        .trim_end_matches('.')
        .split('.')
        .any(|l| l.is_empty() || l.len() > 63)
    {
        return Err(bad("empty label or a label longer than 63 characters"));
    }
    Ok(())
}

/// A usable SRV target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SrvTarget {
    /// Target host, lowercase, no trailing dot.
    host: String,
    port: u16,
    info: SrvInfo,
}

/// The usable targets of SRV records, in record order: not ".", port not 0, a
/// name of legal length, each (host, port) once. What is left out is described
/// in `skipped`.
fn srv_targets(records: &[SRV], skipped: &mut Vec<String>) -> Vec<SrvTarget> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for srv in records.iter().filter(|r| !r.target.is_root()) {
        let host = srv
            .target
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if host.is_empty()
            || host.len() > MAX_NAME_LEN
            || srv.port == 0
            || !seen.insert((host.clone(), srv.port))
        {
            skipped.push(format!(
                "{}:{}: unusable SRV record",
                truncate(&host),
                srv.port
            ));
            continue;
        }
        out.push(SrvTarget {
            host,
            port: srv.port,
            info: SrvInfo {
                priority: srv.priority,
                weight: srv.weight,
            },
        });
    }
    out
}

fn addresses_by_name(records: &[Record]) -> HashMap<String, Vec<IpAddr>> {
    let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for record in records {
        let ip = match &record.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
            _ => continue,
        };
        let name = record
            .name
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        map.entry(name).or_default().push(ip);
    }
    map
}

/// The instance part of `instance._pingpong._udp.domain.`, for display.
fn instance_label(instance_name: &str, browse_name: &str) -> String {
    let full = instance_name.trim_end_matches('.');
    let suffix = browse_name.trim_end_matches('.');
    full.strip_suffix(suffix)
        .and_then(|s| s.strip_suffix('.'))
        .unwrap_or(full)
        .replace("\\032", " ")
        .replace('\\', "")
}

/// Keeps a query's candidates up to date: resolves now, then again when the
/// records' TTL runs out or when [`DnsWatch::refresh`] is called (after a failed
/// connection), and reports the differences as events.
pub struct DnsWatch {
    refresh: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsWatch {
    /// Starts watching `query`, sending events to `events`. A failed lookup is
    /// reported to `problems` (once per distinct error) and retried.
    pub fn start(
        resolver: DnsResolver,
        query: DnsQuery,
        events: mpsc::UnboundedSender<DiscoveryEvent>,
        problems: mpsc::UnboundedSender<DnsLookupError>,
    ) -> Self {
        let refresh = Arc::new(Notify::new());
        let wake = refresh.clone();
        let task = tokio::spawn(async move {
            let mut known: HashMap<String, Candidate> = HashMap::new();
            let mut last_problem: Option<DnsLookupError> = None;
            loop {
                let wait = match resolver.resolve(&query).await {
                    Ok(found) => {
                        last_problem = None;
                        for skipped in &found.skipped {
                            warn!(name = query.name(), "{skipped}");
                            let _ = problems.send(DnsLookupError::Ignored(skipped.clone()));
                        }
                        let current: HashMap<String, Candidate> = found
                            .candidates
                            .into_iter()
                            .map(|c| (c.key.clone(), c))
                            .collect();
                        for (key, old) in &known {
                            match current.get(key) {
                                None => {
                                    let _ = events.send(DiscoveryEvent::Removed(old.clone()));
                                }
                                Some(new) if new != old => {
                                    let _ = events.send(DiscoveryEvent::Updated(new.clone()));
                                }
                                Some(_) => {}
                            }
                        }
                        for (key, new) in &current {
                            if !known.contains_key(key) {
                                let _ = events.send(DiscoveryEvent::Added(new.clone()));
                            }
                        }
                        known = current;
                        found.ttl.clamp(MIN_REFRESH, MAX_REFRESH)
                    }
                    Err(problem) => {
                        if last_problem.as_ref() != Some(&problem) {
                            let _ = problems.send(problem.clone());
                        }
                        if matches!(
                            problem,
                            DnsLookupError::NoSuchName { .. }
                                | DnsLookupError::NoRecords { .. }
                                | DnsLookupError::NotAvailable { .. }
                        ) {
                            for (_, old) in known.drain() {
                                let _ = events.send(DiscoveryEvent::Removed(old));
                            }
                        }
                        last_problem = Some(problem);
                        MIN_REFRESH * 2
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = wake.notified() => {}
                }
                if events.is_closed() {
                    break;
                }
            }
        });
        Self { refresh, task }
    }

    /// Resolves again now (for example after a connection to a candidate failed).
    pub fn refresh(&self) {
        self.refresh.notify_one();
    }
}

impl Drop for DnsWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    //! SRV and DNS-SD record handling against arbitrary and mutated DNS
    //! responses (the fuzz targets of this module, as stable-toolchain property
    //! tests): never a panic, and what is accepted stays within bounds.

    use super::*;
    use hickory_resolver::proto::op::{Message, MessageType, OpCode};
    use hickory_resolver::proto::rr::rdata::{A, PTR};
    use hickory_resolver::proto::rr::Name;
    use proptest::prelude::*;
    use proptest::sample::Index;

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SRV {
        SRV::new(priority, weight, port, Name::from_ascii(target).unwrap())
    }

    #[test]
    fn usable_targets_are_kept_once_and_the_rest_explained() {
        let records = [
            srv(0, 10, 4433, "Pod-0.Pingpong.Example."),
            srv(0, 10, 4433, "pod-0.pingpong.example."),
            srv(0, 10, 0, "pod-1.pingpong.example."),
            srv(0, 10, 4433, "."),
            srv(10, 0, 4434, "pod-0.pingpong.example."),
        ];
        let mut skipped = Vec::new();
        let targets = srv_targets(&records, &mut skipped);
        assert_eq!(
            targets,
            vec![
                SrvTarget {
                    host: "pod-0.pingpong.example".into(),
                    port: 4433,
                    info: SrvInfo {
                        priority: 0,
                        weight: 10
                    },
                },
                SrvTarget {
                    host: "pod-0.pingpong.example".into(),
                    port: 4434,
                    info: SrvInfo {
                        priority: 10,
                        weight: 0
                    },
                },
            ]
        );
        assert_eq!(skipped.len(), 2, "{skipped:?}");
    }

    #[test]
    fn instance_labels_drop_the_browse_domain_and_escapes() {
        assert_eq!(
            instance_label(
                "My\\032Server._pingpong._udp.example.",
                "_pingpong._udp.example."
            ),
            "My Server"
        );
        assert_eq!(
            instance_label("other.name.", "_pingpong._udp.example."),
            "other.name"
        );
    }

    /// The SRV records among a response's answers.
    fn srv_answers(message: &Message) -> Vec<SRV> {
        message
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some(srv.clone()),
                _ => None,
            })
            .collect()
    }

    /// A response like a DNS server's: SRV answers and A records for them.
    fn response(records: &[(u16, u16, u16, String)]) -> Vec<u8> {
        let mut message = Message::new(7, MessageType::Response, OpCode::Query);
        let owner = Name::from_ascii("_pingpong._udp.example.").unwrap();
        for (i, (priority, weight, port, target)) in records.iter().enumerate() {
            let Ok(name) = Name::from_ascii(target) else {
                continue;
            };
            message.add_answer(Record::from_rdata(
                owner.clone(),
                5,
                RData::SRV(SRV::new(*priority, *weight, *port, name.clone())),
            ));
            message.add_answer(Record::from_rdata(
                owner.clone(),
                5,
                RData::PTR(PTR(name.clone())),
            ));
            message.add_additional(Record::from_rdata(
                name,
                5,
                RData::A(A::new(127, 0, 0, i as u8)),
            ));
        }
        message.to_vec().unwrap_or_default()
    }

    #[test]
    fn a_built_response_parses_back_to_its_targets() {
        let bytes = response(&[
            (0, 5, 4433, "a.example.".into()),
            (1, 5, 4434, "b.example.".into()),
        ]);
        let message = Message::from_vec(&bytes).unwrap();
        let records = srv_answers(&message);
        let targets = srv_targets(&records, &mut Vec::new());
        assert_eq!(targets.len(), 2);
        assert_eq!(addresses_by_name(&message.additionals).len(), 2);
    }

    /// Everything the resolver does with a response, checked.
    fn handle(message: &Message) -> Result<(), TestCaseError> {
        let records = srv_answers(message);
        let mut skipped = Vec::new();
        let targets = srv_targets(&records, &mut skipped);
        let usable = records.iter().filter(|r| !r.target.is_root()).count();
        prop_assert_eq!(targets.len() + skipped.len(), usable);
        let mut seen = HashSet::new();
        for target in &targets {
            prop_assert!(target.port != 0);
            prop_assert!(!target.host.is_empty() && target.host.len() <= MAX_NAME_LEN);
            prop_assert!(!target.host.ends_with('.'));
            prop_assert_eq!(&target.host, &target.host.to_ascii_lowercase());
            prop_assert!(seen.insert((target.host.clone(), target.port)));
        }
        for reason in &skipped {
            prop_assert!(reason.len() < 200, "{}", reason);
        }
        for ips in addresses_by_name(&message.additionals).values() {
            prop_assert!(!ips.is_empty());
        }
        for record in &message.answers {
            match &record.data {
                RData::PTR(ptr) => {
                    let name = ptr.0.to_ascii();
                    let label = instance_label(&name, "_pingpong._udp.example.");
                    prop_assert!(label.len() <= name.len());
                }
                RData::TXT(txt) => {
                    for string in txt.txt_data.iter() {
                        parse_txt_string(string);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn any_bytes_as_a_response_are_handled(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            if let Ok(message) = Message::from_vec(&bytes) {
                handle(&message)?;
            }
        }

        #[test]
        fn mutated_responses_are_handled(
            records in proptest::collection::vec(
                (any::<u16>(), any::<u16>(), any::<u16>(), "[a-zA-Z0-9-]{1,20}(\\.[a-zA-Z0-9-]{1,20}){0,3}\\.?|\\."),
                0..8,
            ),
            flips in proptest::collection::vec((any::<Index>(), any::<u8>()), 0..6),
            cut in proptest::option::of(any::<Index>()),
        ) {
            let mut bytes = response(&records);
            if !bytes.is_empty() {
                for (at, value) in flips {
                    let i = at.index(bytes.len());
                    bytes[i] = value;
                }
                if let Some(cut) = cut {
                    let len = cut.index(bytes.len());
                    bytes.truncate(len);
                }
            }
            if let Ok(message) = Message::from_vec(&bytes) {
                handle(&message)?;
            }
        }

        #[test]
        fn user_given_names_never_panic(input in ".{0,300}", browse in ".{0,80}") {
            let _ = srv_name(&input);
            let _ = browse_name(&input);
            let _ = check_name(&input);
            let label = instance_label(&input, &browse);
            prop_assert!(label.len() <= input.len());
        }
    }
}
