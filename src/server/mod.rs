//! The WebTransport ping-pong server.
//!
//! - [`config`]: settings and defaults.
//! - `endpoint`: the QUIC endpoint's bind and transport settings.
//! - `accept`: one incoming connection, from handshake to close, and the
//!   session limit.
//! - [`session`]: one session's protocol logic, sans-IO.
//! - [`handler`]: drives a session over any async byte stream.
//! - [`outbox`]: recent pongs per client, for a client that comes back.
//! - [`metrics`]: `/metrics`, `/healthz`, `/readyz` (Prometheus).
//! - [`reload`]: certificates reloaded when their files change.
//! - [`load`]: when the `load` in the TXT record is worth re-publishing.
//! - this module: [`Server`] binds, advertises (mDNS, and DNS with
//!   `register`) and runs the accept
//!   loop, one task per session; a failing session never stops the loop; on
//!   shutdown it drains.

mod accept;
mod answer;
pub mod config;
mod context;
mod endpoint;
mod error;
pub mod handler;
pub mod load;
pub mod metrics;
pub mod outbox;
mod publishers;
pub mod reload;
pub mod session;

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};
use wtransport::endpoint::endpoint_side;
use wtransport::{Endpoint, VarInt};

use accept::Shared;
pub use config::{MdnsOptions, ServerConfig};
pub use error::ServerError;
use handler::SessionTiming;
use metrics::Metrics;
use outbox::Outboxes;
pub use session::ServerInfo;

use crate::discovery::publisher::Publisher;
use crate::discovery::ServerTxt;
use crate::tls::resumption::OnResume;
use crate::tls::server_tls_config_allowing;

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    endpoint: Endpoint<endpoint_side::Server>,
    certs: reload::CertWatcher,
    metrics_listener: Option<std::net::TcpListener>,
    /// mDNS, DNS zone: every way the server is published.
    publishers: Vec<Box<dyn Publisher>>,
    mdns_name: Option<String>,
    txt: ServerTxt,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    fingerprint: String,
    load: load::LoadReport,
}

impl Server {
    /// Loads the certificates, binds the UDP socket and, when configured, starts
    /// advertising over mDNS. Must be called within a tokio runtime.
    pub fn bind(config: ServerConfig) -> Result<Self, ServerError> {
        let mut metrics = Metrics::new(config.max_sessions);
        let resumed = metrics.tls_tickets_accepted_total.clone();
        let on_resume: OnResume = Arc::new(move || {
            resumed.inc();
        });
        let tls =
            server_tls_config_allowing(&config.tls, &config.allowed_clients, on_resume.clone())?;
        let fingerprint = config.tls.leaf_fingerprint()?;
        let endpoint = endpoint::bind(config.listen, tls)?;
        let local_addr = endpoint.local_addr().map_err(|error| ServerError::Bind {
            addr: config.listen,
            error,
        })?;
        let info = ServerInfo {
            server_id: rand::random(),
            instance: config.instance.clone(),
        };
        let txt = ServerTxt {
            version: crate::proto::MAX_VERSION,
            server_id: Some(info.server_id),
            path: config.path.clone(),
            state: crate::proto::ServerState::Serving,
            fingerprint: Some(fingerprint.clone()),
            load: Some(0),
        };
        metrics.set_certificate(&config.tls.cert);
        let published = publishers::start(
            &config,
            &publishers::Facts {
                info: &info,
                local_addr,
                txt: &txt,
                fingerprint: &fingerprint,
            },
            &mut metrics,
        )?;
        let metrics = Arc::new(metrics);
        let metrics_listener = config
            .metrics
            .map(|addr| {
                crate::http_serve::metrics::bind(addr)
                    .map_err(|error| ServerError::Bind { addr, error })
            })
            .transpose()?;
        Ok(Self {
            endpoint,
            certs: reload::CertWatcher::new(
                config.tls.clone(),
                config.allowed_clients.clone(),
                on_resume,
            ),
            metrics_listener,
            publishers: published.publishers,
            mdns_name: published.mdns_name,
            txt,
            local_addr,
            fingerprint,
            load: load::LoadReport::new(),
            shared: Arc::new(Shared {
                info,
                path: config.path,
                timing: SessionTiming {
                    hello_timeout: config.hello_timeout,
                    drain_timeout: config.drain_timeout,
                },
                outboxes: Mutex::new(Outboxes::new(config.outbox)),
                sessions: AtomicUsize::new(0),
                max_sessions: config.max_sessions,
                metrics,
            }),
        })
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The full mDNS service name, when advertising.
    pub fn mdns_name(&self) -> Option<String> {
        self.mdns_name.clone()
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Who this server says it is in `Welcome`.
    pub fn info(&self) -> &ServerInfo {
        &self.shared.info
    }

    /// The WebTransport path served.
    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// SHA-256 fingerprint of the server certificate, hex.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Accepts sessions until `shutdown` is cancelled, then closes every session
    /// and returns once they are gone (or after a grace period).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        // The operations endpoint lives until the very end: /readyz says 503
        // through the drain.
        let ops_stop = CancellationToken::new();
        let ops = match self
            .metrics_listener
            .take()
            .map(tokio::net::TcpListener::from_std)
        {
            Some(Ok(listener)) => Some(tokio::spawn(crate::http_serve::metrics::serve_metrics(
                listener,
                "metrics",
                self.shared.metrics.clone(),
                ops_stop.clone(),
            ))),
            Some(Err(error)) => {
                warn!(%error, "cannot serve metrics");
                None
            }
            None => None,
        };
        let mut reload_tick = tokio::time::interval(reload::RELOAD_POLL);
        reload_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut load_tick = tokio::time::interval(load::LOAD_POLL);
        load_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let incoming = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = reload_tick.tick() => {
                    self.reload_certificates();
                    continue;
                }
                _ = load_tick.tick() => {
                    self.publish_load();
                    continue;
                }
                incoming = self.endpoint.accept() => incoming,
            };
            let shared = self.shared.clone();
            let shutdown = shutdown.clone();
            tracker
                .spawn(async move { accept::handle_incoming(incoming, &shared, &shutdown).await });
        }
        // Drain: discovery says "draining" (no new clients pick us), every session
        // is told to move (`shutdown` is what they watch), new connections are
        // refused, and the server waits a bounded time for the sessions to go.
        tracker.close();
        // Readiness first, then the log line: whoever acts on "draining" in
        // the log finds /readyz already answering 503.
        self.shared.metrics.set_draining();
        info!(sessions = tracker.len(), "draining");
        let mut draining = self.txt.clone();
        draining.state = crate::proto::ServerState::Draining;
        self.publish(&draining, "state=draining");
        let deadline = tokio::time::Instant::now()
            + self.shared.timing.drain_timeout
            + Duration::from_millis(500);
        loop {
            tokio::select! {
                _ = tracker.wait() => break,
                _ = tokio::time::sleep_until(deadline) => {
                    warn!(remaining = tracker.len(), "sessions still open after the drain timeout");
                    break;
                }
                incoming = self.endpoint.accept() => incoming.refuse(),
            }
        }
        // The mDNS goodbye (TTL 0) and the records' removal from the DNS zone
        // (only this server's), once nobody needs them any more.
        for publisher in self.publishers.drain(..) {
            publisher.withdraw().await;
        }
        self.endpoint.close(
            VarInt::from_u32(accept::CLOSE_SHUTDOWN),
            b"server shutting down",
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
        ops_stop.cancel();
        if let Some(ops) = ops {
            let _ = ops.await;
        }
        info!("stopped");
    }
}

impl Server {
    /// Publishes the sessions in use as TXT `load` when it changed enough
    /// (see [`load`]).
    fn publish_load(&mut self) {
        let sessions = self
            .shared
            .sessions
            .load(std::sync::atomic::Ordering::Acquire);
        let now = load::per_mille(sessions, self.shared.max_sessions);
        if let Some(value) = self.load.next(now, tokio::time::Instant::now()) {
            tracing::debug!(load = value, sessions, "publishing load");
            self.txt.load = Some(value);
            self.publish_txt("the new load");
        }
    }

    /// Sends the current TXT record out over mDNS and to the DNS zone.
    fn publish_txt(&self, what: &str) {
        self.publish(&self.txt, what);
    }

    /// Sends `txt` to every publisher; `what` names the change in a warning.
    fn publish(&self, txt: &ServerTxt, what: &str) {
        let pairs = txt.to_pairs();
        for publisher in &self.publishers {
            if let Err(error) = publisher.update_txt(&pairs) {
                warn!(%error, to = %publisher.name(), "cannot publish {what}");
            }
        }
    }

    /// New sessions get the certificate files' current contents, if they load.
    fn reload_certificates(&mut self) {
        match self.certs.check() {
            reload::Reload::Unchanged => {}
            reload::Reload::Rejected(error) => {
                warn!(%error, "new certificate files do not load; keeping the current ones");
            }
            reload::Reload::Changed(tls, fingerprint) => {
                let config = endpoint::wt_config(
                    wtransport::ServerConfig::builder()
                        .with_bind_address(self.local_addr)
                        .with_custom_tls_and_transport(*tls, endpoint::quic_transport()),
                );
                match self.endpoint.reload_config(config, false) {
                    Ok(()) => {
                        info!(fingerprint = %fingerprint, "certificates reloaded for new sessions");
                        self.shared
                            .metrics
                            .set_certificate(&self.certs.material().cert);
                        self.fingerprint = fingerprint.clone();
                        self.txt.fingerprint = Some(fingerprint);
                        self.publish_txt("the new fingerprint");
                    }
                    Err(error) => warn!(%error, "cannot apply the new certificates"),
                }
            }
        }
    }
}
