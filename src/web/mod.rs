//! `pingpong web`: a local agent with a live dashboard in the browser.
//!
//! - [`model`]: the dashboard's rows, pure (discovery and monitor reports in,
//!   JSON snapshots out).
//! - [`monitor`]: one task per discovered server: an mTLS session like the
//!   client's, a ping a second, reconnects.
//! - [`access`]: the per-start token, loopback-only peers, allowed hosts.
//! - [`cert`]: the self-signed certificate the page pins by hash.
//! - [`http`]: the embedded page and its config, over loopback HTTP.
//! - [`push`]: the WebTransport endpoint that streams snapshots to the page.
//! - [`metrics`]: the monitors' counts as Prometheus metrics (`--metrics`).
//! - this module: [`WebAgent`] wires them to discovery.

pub mod access;
pub mod cert;
mod error;
pub mod http;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod push;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use wtransport::endpoint::endpoint_side::Server;
use wtransport::Endpoint;

use crate::client::Connector;
use crate::discovery::{Candidate, Discovery, DiscoveryConfig, DiscoveryEvent, SourceEvent};
use access::Access;
use cert::endpoint_config;
pub use error::WebError;
use http::PageConfig;
use metrics::ServerLabels;
use model::Board;

/// Snapshots are sent at most this often: a burst of reports (several servers
/// answering in the same millisecond) becomes one update, and a page redraws
/// at most four times a second.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// Servers shown at most: a LAN peer flooding fake mDNS records must not make
/// the agent open unbounded sessions or the page draw unbounded rows.
const MAX_SERVERS: usize = 256;

/// Settings of the agent.
pub struct WebConfig {
    /// HTTP address of the page (TCP); the WebTransport endpoint takes a UDP
    /// port on the same address.
    pub listen: SocketAddr,
    /// Serve peers other than this machine.
    pub allow_remote: bool,
    /// Where to look for servers.
    pub discovery: DiscoveryConfig,
    /// Serve `/metrics` (Prometheus) over HTTP on this address.
    pub metrics: Option<SocketAddr>,
}

/// A bound agent, ready to [`run`](WebAgent::run).
pub struct WebAgent {
    http: std::net::TcpListener,
    endpoint: Endpoint<Server>,
    access: Arc<Access>,
    page: Arc<PageConfig>,
    connector: Arc<Connector>,
    discovery: DiscoveryConfig,
    local: SocketAddr,
    metrics: Option<(std::net::TcpListener, SocketAddr)>,
}

impl WebAgent {
    /// Binds the page's TCP socket and the WebTransport UDP socket, and makes
    /// this run's certificate and token. Must be called within a tokio runtime.
    pub fn bind(config: WebConfig, connector: Connector) -> Result<Self, WebError> {
        if !config.listen.ip().is_loopback() && !config.allow_remote {
            return Err(WebError::NotLoopback(config.listen));
        }
        let bind_error = |addr, error| WebError::Bind { addr, error };
        let http = std::net::TcpListener::bind(config.listen)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| bind_error(config.listen, e))?;
        let local = http
            .local_addr()
            .map_err(|e| bind_error(config.listen, e))?;
        let cert = cert::BrowserCert::generate(Some(local.ip()).filter(|ip| !ip.is_unspecified()))?;
        let udp = SocketAddr::new(local.ip(), 0);
        let endpoint =
            Endpoint::server(endpoint_config(udp, &cert)?).map_err(|e| bind_error(udp, e))?;
        let metrics = config
            .metrics
            .map(|addr| {
                let listener =
                    crate::http_serve::metrics::bind(addr).map_err(|e| bind_error(addr, e))?;
                let local = listener.local_addr().map_err(|e| bind_error(addr, e))?;
                Ok::<_, WebError>((listener, local))
            })
            .transpose()?;
        let webtransport_port = endpoint
            .local_addr()
            .map_err(|e| bind_error(udp, e))?
            .port();
        Ok(Self {
            http,
            endpoint,
            access: Arc::new(Access::new(local, config.allow_remote)),
            page: Arc::new(PageConfig {
                webtransport_port,
                cert_sha256: cert.sha256.into(),
            }),
            connector: Arc::new(connector),
            discovery: config.discovery,
            local,
            metrics,
        })
    }

    /// Where `/metrics` is served, with `--metrics`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    /// The URL to open, with this run's token.
    pub fn url(&self) -> String {
        self.access.page_url(self.local)
    }

    /// Runs until `stop` is cancelled: discovery, one monitor per server, the
    /// page and its update stream.
    pub async fn run(self, stop: CancellationToken) -> Result<(), WebError> {
        let mut discovery = Discovery::start(&self.discovery)?;
        let mut board = Board::default();
        let (snapshots, snapshot_rx) = watch::channel(Arc::new(board.snapshot_json()));
        let listener =
            tokio::net::TcpListener::from_std(self.http).map_err(|e| WebError::Bind {
                addr: self.local,
                error: e,
            })?;
        let page = tokio::spawn(http::serve(
            listener,
            self.access.clone(),
            self.page.clone(),
            stop.clone(),
        ));
        let updates = tokio::spawn(push::serve(
            self.endpoint,
            self.access.clone(),
            self.page.clone(),
            snapshot_rx,
            stop.clone(),
        ));
        let metrics = match self.metrics {
            Some((listener, addr)) => {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .map_err(|error| WebError::Bind { addr, error })?;
                let metrics = Arc::new(metrics::WebMetrics::new());
                tokio::spawn(crate::http_serve::metrics::serve_metrics(
                    listener,
                    "web metrics",
                    metrics.clone(),
                    stop.clone(),
                ));
                Some(metrics)
            }
            None => None,
        };
        let (report_tx, mut reports) = mpsc::unbounded_channel();
        let mut monitors: HashMap<String, (CancellationToken, Candidate)> = HashMap::new();
        let mut warned_full = false;
        let mut publish = tokio::time::interval(PUBLISH_EVERY);
        publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dirty = false;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                next = discovery.next() => match next {
                    Some(SourceEvent::Event(event)) => {
                        dirty = true;
                        match event {
                            DiscoveryEvent::Added(candidate) | DiscoveryEvent::Updated(candidate) => {
                                let known = monitors.get(&candidate.key).map(|(_, c)| c);
                                if known.is_none() && monitors.len() >= MAX_SERVERS {
                                    if !warned_full {
                                        warn!(limit = MAX_SERVERS, "too many servers discovered; ignoring the rest");
                                        warned_full = true;
                                    }
                                    continue;
                                }
                                board.upsert(&candidate);
                                // A server that moved (address, port, path) is
                                // monitored afresh at its new place.
                                if known.is_none_or(|old| moved(old, &candidate)) {
                                    if let Some((token, _)) = monitors.remove(&candidate.key) {
                                        token.cancel();
                                    }
                                    info!(server = %candidate.instance, source = %candidate.source, "monitoring");
                                    let token = stop.child_token();
                                    monitors.insert(candidate.key.clone(), (token.clone(), candidate.clone()));
                                    tokio::spawn(monitor::monitor(
                                        self.connector.clone(),
                                        candidate,
                                        report_tx.clone(),
                                        token,
                                    ));
                                }
                            }
                            DiscoveryEvent::Removed(candidate, reason) => {
                                info!(server = %candidate.instance, %reason, "gone from discovery");
                                if let Some(metrics) = &metrics {
                                    metrics.forget(&ServerLabels {
                                        instance: candidate.instance.clone(),
                                        key: candidate.key.clone(),
                                        source: candidate.source.to_string(),
                                    });
                                }
                                board.remove(&candidate.key);
                                if let Some((token, _)) = monitors.remove(&candidate.key) {
                                    token.cancel();
                                }
                            }
                        }
                    }
                    Some(SourceEvent::Problem(problem)) => warn!(%problem, "discovery problem"),
                    Some(SourceEvent::Settled) => {}
                    None => break,
                },
                Some((key, event)) = reports.recv() => {
                    if let (Some(metrics), Some(row)) = (&metrics, board.row(&key)) {
                        let server = ServerLabels {
                            instance: row.instance.clone(),
                            key: key.clone(),
                            source: row.source.clone(),
                        };
                        metrics.observe(&server, &event);
                    }
                    let instance = board.row(&key).map(|row| row.instance.clone()).unwrap_or_default();
                    if let Some(reason) = board.apply(&key, event, now_ms()) {
                        warn!(server = %instance, %reason, "server unreachable");
                        // Reconfirmed over mDNS: gone, it leaves every view
                        // on the link within seconds.
                        if let Some((_, candidate)) = monitors.get(&key) {
                            discovery.report_failure(candidate);
                        }
                    }
                    dirty = true;
                }
                _ = publish.tick(), if dirty => {
                    dirty = false;
                    snapshots.send_replace(Arc::new(board.snapshot_json()));
                }
            }
        }
        for (token, _) in monitors.values() {
            token.cancel();
        }
        discovery.shutdown();
        let _ = page.await;
        let _ = updates.await;
        self.connector.shutdown().await;
        Ok(())
    }
}

/// Whether a rediscovered server is somewhere else now.
fn moved(old: &Candidate, new: &Candidate) -> bool {
    old.addresses != new.addresses
        || old.port != new.port
        || old.path != new.path
        || old.host != new.host
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
