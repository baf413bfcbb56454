//! Asking DNS, with hickory-resolver: SRV lookups and DNS-SD browses, their
//! answers validated (see [`records`](super::records)) into candidates.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::IntoName;
use hickory_resolver::proto::rr::{Name, RData};
use hickory_resolver::TokioResolver;
use tracing::{debug, warn};

use crate::discovery::txt::parse_txt_string;
use crate::discovery::txt::ServerTxt;
use crate::discovery::{Candidate, DnsSdDomain, Source};
use crate::text::truncate;

use super::records::{
    addresses_by_name, check_name, instance_of, ptr_targets, srv_targets, SrvTarget,
};
use super::{DnsConfig, DnsLookupError, Resolution, MAX_REFRESH};

/// Most instances one DNS-SD browse looks up: a zone with more is a
/// misconfiguration or an attack; the rest are reported as skipped.
pub const MAX_BROWSE_INSTANCES: usize = 256;
/// SRV/TXT lookups of one browse in flight at once: a zone of hundreds of
/// instances resolves in a fraction of a second without hammering its server.
const CONCURRENT_LOOKUPS: usize = 8;

/// A configured resolver.
#[derive(Clone)]
pub struct DnsResolver {
    pub(super) inner: Arc<TokioResolver>,
    config: DnsConfig,
    /// The system's search list (`search`/`domain`), where browse domains
    /// are learnt.
    pub(super) search: Arc<Vec<Name>>,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResolver")
            .field("config", &self.config)
            .finish()
    }
}

impl DnsResolver {
    /// The service looked up (`_pingpong._udp`).
    pub(super) fn service(&self) -> &str {
        &self.config.service
    }

    /// A resolver for `config`.
    pub fn new(config: &DnsConfig) -> Result<Self, DnsLookupError> {
        let other = |reason: String| DnsLookupError::Other {
            name: String::new(),
            reason,
        };
        let system = hickory_resolver::system_conf::read_system_conf();
        let search: Vec<Name> = system.as_ref().map_or_else(
            |_| Vec::new(),
            |(conf, _)| {
                conf.domain()
                    .into_iter()
                    .chain(conf.search())
                    .cloned()
                    .collect()
            },
        );
        let servers: Vec<NameServerConfig> = config
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
        let (resolver_config, mut opts) = if servers.is_empty() {
            system.map_err(|e| other(format!("cannot read the system DNS configuration: {e}")))?
        } else {
            // Names are asked as given; a short one is completed from the
            // system's search list by `short_name_candidates`.
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
            search: Arc::new(search),
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

    /// DNS-SD in one domain (`--dns-sd`): the instances its PTR records at
    /// `name` list, each tagged with the domain.
    pub(super) async fn resolve_browse(&self, name: &str) -> Result<Resolution, DnsLookupError> {
        let mut found = self.browse(name).await?;
        let prefix = format!("{}.", self.config.service);
        let domain = name
            .trim_end_matches('.')
            .strip_prefix(&prefix)
            .unwrap_or(name);
        let browsed = std::sync::Arc::new(DnsSdDomain {
            domain: domain.to_string(),
            learnt: "--dns-sd".into(),
        });
        for candidate in &mut found.candidates {
            candidate.browsed = Some(browsed.clone());
        }
        Ok(found)
    }

    /// DNS-SD: the instances PTR records at `name` list, each resolved.
    pub(super) async fn browse(&self, name: &str) -> Result<Resolution, DnsLookupError> {
        check_name(name)?;
        let ptrs = self.inner.reverse_lookup(name).await.map_err(|e| {
            match self.lookup_error(name, "PTR", e) {
                // Said in DNS-SD terms, not SRV's.
                DnsLookupError::NoSuchName { .. } | DnsLookupError::NoRecords { .. } => {
                    DnsLookupError::NoBrowseRecords {
                        name: name.to_string(),
                    }
                }
                other => other,
            }
        })?;
        let mut out = Resolution {
            candidates: Vec::new(),
            ttl: MAX_REFRESH,
            skipped: Vec::new(),
        };
        // Instance names stay wire names: RFC 6763 allows any UTF-8 in the
        // instance label ("Living Room", "café"), which a round trip through
        // presentation text would escape or reject.
        let pointers = ptr_targets(ptrs.answers());
        if pointers.len() > MAX_BROWSE_INSTANCES {
            out.skipped.push(format!(
                "{name}: {} instances, only the first {MAX_BROWSE_INSTANCES} are looked up",
                pointers.len()
            ));
        }
        // In record order, a few lookups at a time.
        let lookups = pointers.into_iter().take(MAX_BROWSE_INSTANCES).map(
            |(instance_name, ttl)| async move {
                let instance = instance_of(&instance_name);
                let shown = instance_name.to_utf8();
                let found = self.resolve_instance(instance_name, &shown, instance).await;
                (shown, ttl, found)
            },
        );
        let results: Vec<_> = futures::stream::iter(lookups)
            .buffered(CONCURRENT_LOOKUPS)
            .collect()
            .await;
        for (instance_name, ttl, found) in results {
            out.ttl = out.ttl.min(Duration::from_secs(u64::from(ttl)));
            match found {
                Ok(found) => {
                    out.ttl = out.ttl.min(found.ttl);
                    out.candidates.extend(found.candidates);
                    out.skipped.extend(found.skipped);
                }
                Err(e) => out
                    .skipped
                    .push(format!("{}: {e}", truncate(&instance_name))),
            }
        }
        if out.candidates.is_empty() && !out.skipped.is_empty() {
            warn!(name, skipped = ?out.skipped, "DNS-SD instances unusable");
        }
        Ok(out)
    }

    /// SRV and TXT at a DNS-SD instance's name, as the PTR gave it.
    async fn resolve_instance(
        &self,
        name: Name,
        shown: &str,
        instance: String,
    ) -> Result<Resolution, DnsLookupError> {
        let lookup = self
            .inner
            .srv_lookup(name.clone())
            .await
            .map_err(|e| self.lookup_error(shown, "SRV", e))?;
        self.srv_records(
            shown,
            name,
            lookup.answers(),
            lookup.additionals(),
            Some(instance),
        )
        .await
    }

    /// With `--dns-server`, the names to ask for a short service name (no dot,
    /// as `--dns pingpong`): completed with each domain of the system's search
    /// list, then as given, the way `nslookup NAME SERVER` completes it. `None`
    /// for the system's own servers (hickory applies the search list and
    /// `ndots`) and for dotted names (asked as given: a server that never
    /// answers costs one timeout, not one per search domain).
    fn short_name_candidates(&self, name: &str) -> Option<Vec<String>> {
        let short = name.strip_prefix(&format!("{}.", self.config.service))?;
        if self.config.servers.is_empty() || short.contains('.') || self.search.is_empty() {
            return None;
        }
        let mut names: Vec<String> = self
            .search
            .iter()
            .map(|domain| format!("{name}.{}", domain.to_ascii().trim_end_matches('.')))
            .collect();
        names.push(name.to_string());
        Some(names)
    }

    /// SRV at `name`, the targets' addresses (from the additional section when
    /// present) and TXT at the same name.
    pub(super) async fn resolve_srv(
        &self,
        name: &str,
        instance: Option<String>,
    ) -> Result<Resolution, DnsLookupError> {
        if let Some(candidates) = self.short_name_candidates(name) {
            let mut last = None;
            for candidate in candidates {
                match self
                    .resolve_srv_as_given(&candidate, instance.clone())
                    .await
                {
                    Err(error @ DnsLookupError::NoSuchName { .. }) => last = Some(error),
                    other => return other,
                }
            }
            return Err(last.expect("at least the name as given was asked"));
        }
        self.resolve_srv_as_given(name, instance).await
    }

    /// [`resolve_srv`](Self::resolve_srv) for one name, completed by the
    /// resolver's own configuration only.
    async fn resolve_srv_as_given(
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
        self.srv_records(name, name, lookup.answers(), lookup.additionals(), instance)
            .await
    }

    /// Candidates from an SRV answer (`answers`, `additionals`) for the name
    /// shown as `name`, with the TXT at `txt_name`.
    async fn srv_records(
        &self,
        name: &str,
        txt_name: impl IntoName,
        answers: &[hickory_resolver::proto::rr::Record],
        additionals: &[hickory_resolver::proto::rr::Record],
        instance: Option<String>,
    ) -> Result<Resolution, DnsLookupError> {
        let via_browse = instance.is_some();
        let mut ttl = MAX_REFRESH;
        let mut records = Vec::new();
        for record in answers {
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
        let additional = addresses_by_name(additionals);
        let (txt_pairs, txt) = self.txt(txt_name).await;
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
                source: if via_browse {
                    Source::DnsSd
                } else {
                    Source::Dns
                },
                txt: txt.clone(),
                srv: Some(info),
                txt_pairs: txt_pairs.clone(),
                browsed: None,
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
    async fn txt(
        &self,
        name: impl IntoName,
    ) -> (Vec<(String, String)>, Result<Option<ServerTxt>, String>) {
        let Ok(lookup) = self.inner.txt_lookup(name).await else {
            return (Vec::new(), Ok(None));
        };
        // In record order (as shown), the first occurrence of a key winning
        // (RFC 6763 §6.4).
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut seen = HashSet::new();
        for record in lookup.answers() {
            if let RData::TXT(txt) = &record.data {
                for string in txt.txt_data.iter() {
                    let (key, value) = parse_txt_string(string);
                    if seen.insert(key.clone()) {
                        pairs.push((key, value));
                    }
                }
            }
        }
        let raw = crate::discovery::mdns::raw_pairs(pairs.iter().cloned());
        // Another service's TXT is shown as it is, not read as pingpong's.
        if pairs.is_empty() || !self.config.is_pingpong() {
            return (raw, Ok(None));
        }
        let value = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let parsed = ServerTxt::parse(value).map(Some).map_err(|e| e.to_string());
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
