//! The WebTransport ping-pong server.
//!
//! - [`config`]: settings and defaults.
//! - [`session`]: one session's protocol logic, sans-IO.
//! - [`handler`]: drives a session over any async byte stream.
//! - this module: binds the endpoint and runs the accept loop, one task per
//!   session; a failing session never stops the loop.

pub mod config;
pub mod handler;
pub mod metrics;
pub mod outbox;
pub mod reload;
pub mod session;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use wtransport::config::Ipv6DualStackConfig;
use wtransport::endpoint::endpoint_side;
use wtransport::endpoint::IncomingSession;
use wtransport::{Endpoint, VarInt};

pub use config::{MdnsOptions, ServerConfig};
use handler::{run_control_stream, SessionContext, SessionEnd, SessionTiming};
use metrics::Metrics;
use outbox::Outboxes;
pub use session::ServerInfo;

use crate::discovery::mdns::{Advertisement, Advertiser};
use crate::discovery::ServerTxt;
use crate::proto::{ErrorCode, ServerMessage};
use crate::tls::{server_tls_config_allowing, PeerIdentity, TlsError};
use crate::transport::{IDLE_TIMEOUT, KEEP_ALIVE_INTERVAL};

/// Application close code of a session that ended normally.
const CLOSE_OK: u32 = 0;
/// Application close code sent to sessions when the server shuts down.
const CLOSE_SHUTDOWN: u32 = 0x10;
/// How long the server waits for a refused client to read its `Error` frame and
/// close, before closing the connection itself.
const ERROR_LINGER: Duration = Duration::from_secs(1);

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Certificate material is missing or invalid.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// mDNS advertising could not start.
    #[error("cannot advertise over mDNS: {0} (use --no-mdns to run without it)")]
    Mdns(#[from] crate::discovery::DiscoveryError),
    /// The UDP socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    endpoint: Endpoint<endpoint_side::Server>,
    certs: reload::CertWatcher,
    metrics_listener: Option<std::net::TcpListener>,
    advertiser: Option<Advertiser>,
    txt: ServerTxt,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    fingerprint: String,
}

struct Shared {
    info: ServerInfo,
    path: String,
    timing: SessionTiming,
    outboxes: Mutex<Outboxes>,
    sessions: AtomicUsize,
    max_sessions: usize,
    metrics: Arc<Metrics>,
}

/// One of the server's session slots, given back when dropped.
struct SessionSlot<'a>(&'a Shared);

impl<'a> SessionSlot<'a> {
    fn take(shared: &'a Shared) -> Option<Self> {
        shared
            .sessions
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < shared.max_sessions).then_some(n + 1)
            })
            .ok()?;
        shared.metrics.sessions_open.inc();
        shared.metrics.sessions_total.inc();
        Some(Self(shared))
    }
}

impl Drop for SessionSlot<'_> {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::AcqRel);
        self.0.metrics.sessions_open.dec();
        let clients = self.0.outboxes.lock().map_or(0, |o| o.clients());
        self.0.metrics.outbox_clients.set(clients as i64);
    }
}

impl Server {
    /// Loads the certificates, binds the UDP socket and, when configured, starts
    /// advertising over mDNS. Must be called within a tokio runtime.
    pub fn bind(config: ServerConfig) -> Result<Self, ServerError> {
        let tls = server_tls_config_allowing(&config.tls, &config.allowed_clients)?;
        let fingerprint = config.tls.leaf_fingerprint()?;
        let endpoint = bind_endpoint(config.listen, tls)?;
        let local_addr = endpoint.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        let info = ServerInfo {
            server_id: rand::random(),
            instance: config.instance,
        };
        let txt = ServerTxt {
            version: crate::proto::MAX_VERSION,
            server_id: Some(info.server_id),
            path: config.path.clone(),
            state: crate::proto::ServerState::Serving,
            fingerprint: Some(fingerprint.clone()),
            load: None,
        };
        let advertiser = match &config.mdns {
            Some(mdns) => Some(Advertiser::start(&Advertisement {
                service_type: mdns.service_type.clone(),
                instance: info.instance.clone(),
                listen: local_addr,
                txt: txt.to_pairs(),
                interfaces: mdns.interfaces.clone(),
            })?),
            None => None,
        };
        let metrics_listener = config
            .metrics
            .map(|addr| metrics::bind(addr).map_err(|source| ServerError::Bind { addr, source }))
            .transpose()?;
        Ok(Self {
            endpoint,
            certs: reload::CertWatcher::new(config.tls.clone(), config.allowed_clients.clone()),
            metrics_listener,
            advertiser,
            txt,
            local_addr,
            fingerprint,
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
                metrics: Arc::new(Metrics::new()),
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
        self.advertiser.as_ref().map(Advertiser::fullname)
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
            Some(Ok(listener)) => Some(tokio::spawn(metrics::serve(
                listener,
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
        loop {
            let incoming = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = reload_tick.tick() => {
                    self.reload_certificates();
                    continue;
                }
                incoming = self.endpoint.accept() => incoming,
            };
            let shared = self.shared.clone();
            let shutdown = shutdown.clone();
            tracker.spawn(async move { handle_incoming(incoming, &shared, &shutdown).await });
        }
        // Drain: discovery says "draining" (no new clients pick us), every session
        // is told to move (`shutdown` is what they watch), new connections are
        // refused, and the server waits a bounded time for the sessions to go.
        tracker.close();
        info!(sessions = tracker.len(), "draining");
        self.shared.metrics.set_draining();
        if let Some(advertiser) = &self.advertiser {
            let mut draining = self.txt.clone();
            draining.state = crate::proto::ServerState::Draining;
            if let Err(error) = advertiser.update_txt(&draining.to_pairs()) {
                warn!(%error, "cannot advertise state=draining");
            }
        }
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
        // The mDNS goodbye (TTL 0) once nobody needs the record any more.
        if let Some(advertiser) = self.advertiser.take() {
            advertiser.shutdown().await;
        }
        self.endpoint
            .close(VarInt::from_u32(CLOSE_SHUTDOWN), b"server shutting down");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
        ops_stop.cancel();
        if let Some(ops) = ops {
            let _ = ops.await;
        }
        info!("stopped");
    }
}

impl Server {
    /// New sessions get the certificate files' current contents, if they load.
    fn reload_certificates(&mut self) {
        match self.certs.check() {
            reload::Reload::Unchanged => {}
            reload::Reload::Rejected(error) => {
                warn!(%error, "new certificate files do not load; keeping the current ones");
            }
            reload::Reload::Changed(tls, fingerprint) => {
                let config = wt_config(
                    wtransport::ServerConfig::builder()
                        .with_bind_address(self.local_addr)
                        .with_custom_tls_and_transport(*tls, quic_transport()),
                );
                match self.endpoint.reload_config(config, false) {
                    Ok(()) => {
                        info!(fingerprint = %fingerprint, "certificates reloaded for new sessions");
                        self.fingerprint = fingerprint.clone();
                        self.txt.fingerprint = Some(fingerprint);
                        if let Some(advertiser) = &self.advertiser {
                            if let Err(error) = advertiser.update_txt(&self.txt.to_pairs()) {
                                warn!(%error, "cannot advertise the new fingerprint");
                            }
                        }
                    }
                    Err(error) => warn!(%error, "cannot apply the new certificates"),
                }
            }
        }
    }
}

fn bind_endpoint(
    listen: SocketAddr,
    tls: rustls::ServerConfig,
) -> Result<Endpoint<endpoint_side::Server>, ServerError> {
    let bind_error = |addr, source| ServerError::Bind { addr, source };
    match listen {
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => {
            let dual = wt_config(
                wtransport::ServerConfig::builder()
                    .with_bind_address_v6(v6, Ipv6DualStackConfig::Allow)
                    .with_custom_tls_and_transport(tls.clone(), quic_transport()),
            );
            match Endpoint::server(dual) {
                Ok(endpoint) => Ok(endpoint),
                Err(error) => {
                    let v4 = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), v6.port());
                    warn!(%error, "IPv6 unavailable, listening on {v4}");
                    let config = wt_config(
                        wtransport::ServerConfig::builder()
                            .with_bind_address(v4)
                            .with_custom_tls_and_transport(tls, quic_transport()),
                    );
                    Endpoint::server(config).map_err(|e| bind_error(v4, e))
                }
            }
        }
        addr => {
            let builder = match addr {
                SocketAddr::V6(v6) => wtransport::ServerConfig::builder().with_bind_address_v6(
                    SocketAddrV6::new(*v6.ip(), v6.port(), 0, v6.scope_id()),
                    Ipv6DualStackConfig::Deny,
                ),
                SocketAddr::V4(_) => wtransport::ServerConfig::builder().with_bind_address(addr),
            };
            Endpoint::server(wt_config(
                builder.with_custom_tls_and_transport(tls, quic_transport()),
            ))
            .map_err(|e| bind_error(addr, e))
        }
    }
}

/// QUIC settings of every server connection: the timers of
/// [`crate::transport`], and stream limits. The protocol needs one bidirectional
/// stream for the WebTransport CONNECT and one for the control stream; HTTP/3
/// needs three unidirectional ones from the client (control, QPACK encoder and
/// decoder). A peer that opens more is held back by QUIC flow control rather
/// than costing the server memory.
fn quic_transport() -> wtransport::quinn::TransportConfig {
    let mut transport = wtransport::quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(MAX_BIDI_STREAMS.into())
        .max_concurrent_uni_streams(MAX_UNI_STREAMS.into());
    transport
}

/// Bidirectional streams a client may have open: CONNECT + control stream.
const MAX_BIDI_STREAMS: u32 = 2;
/// Unidirectional streams a client may have open: the three of HTTP/3.
const MAX_UNI_STREAMS: u32 = 3;

fn wt_config(
    builder: wtransport::config::ServerConfigBuilder<
        wtransport::config::states::WantsTransportConfigServer,
    >,
) -> wtransport::ServerConfig {
    builder
        .keep_alive_interval(Some(KEEP_ALIVE_INTERVAL))
        .max_idle_timeout(Some(IDLE_TIMEOUT))
        .expect("IDLE_TIMEOUT fits a QUIC varint")
        .build()
}

/// One incoming connection: handshake, path check, control stream, close.
async fn handle_incoming(incoming: IncomingSession, shared: &Shared, shutdown: &CancellationToken) {
    let remote = incoming.remote_address();
    let request = match incoming.await {
        Ok(request) => request,
        Err(error) => {
            // TLS rejections (no client certificate, unknown CA, expired) land here.
            info!(%remote, %error, "connection refused during handshake");
            let tls = error
                .to_string()
                .to_ascii_lowercase()
                .contains("certificate")
                || error.to_string().contains("handshake");
            shared.metrics.refused(if tls { "tls" } else { "other" });
            return;
        }
    };
    if request.path() != shared.path {
        info!(%remote, path = request.path(), "no session at this path (404)");
        shared.metrics.refused("not_found");
        request.not_found().await;
        return;
    }
    let connection = match request.accept().await {
        Ok(connection) => connection,
        Err(error) => {
            debug!(%remote, %error, "session request failed");
            return;
        }
    };
    let client = connection.peer_identity().and_then(|chain| {
        chain
            .as_slice()
            .first()
            .and_then(|c| PeerIdentity::from_der(c.der()))
    });
    let client_name = client
        .as_ref()
        .map_or_else(|| "unknown".to_string(), ToString::to_string);
    info!(%remote, client = %client_name, "session opened");

    let stream = tokio::select! {
        _ = shutdown.cancelled() => None,
        stream = tokio::time::timeout(shared.timing.hello_timeout, connection.accept_bi()) => Some(stream),
    };
    let (mut send, recv) = match stream {
        Some(Ok(Ok(stream))) => stream,
        Some(Ok(Err(error))) => {
            info!(%remote, client = %client_name, %error, "session closed before its control stream");
            return;
        }
        Some(Err(_)) => {
            info!(%remote, client = %client_name, "no control stream in time; closing");
            connection.close(
                VarInt::from_u32(crate::proto::ErrorCode::HelloTimeout.as_u16().into()),
                b"no control stream",
            );
            return;
        }
        None => {
            connection.close(VarInt::from_u32(CLOSE_SHUTDOWN), b"server shutting down");
            return;
        }
    };

    // The session limit: a client over it is told so, in protocol terms.
    let Some(slot) = SessionSlot::take(shared) else {
        shared.metrics.refused("server_full");
        warn!(%remote, client = %client_name, limit = shared.max_sessions, "session refused: server full");
        let full = ServerMessage::Error {
            code: ErrorCode::LimitExceeded.as_u16(),
            message: format!(
                "server full: {} sessions (its --max-sessions)",
                shared.max_sessions
            ),
        };
        if let Ok(frame) = crate::proto::encode_frame(&full) {
            let _ = send.write_all(&frame).await;
            let _ = send.finish().await;
        }
        let _ = tokio::time::timeout(ERROR_LINGER, connection.closed()).await;
        connection.close(
            VarInt::from_u32(ErrorCode::LimitExceeded.as_u16().into()),
            b"server full",
        );
        return;
    };

    let ctx = SessionContext {
        info: &shared.info,
        timing: shared.timing,
        metrics: Some(&shared.metrics),
        outboxes: &shared.outboxes,
        outbox_limits: *shared.outboxes.lock().expect("outboxes lock").limits(),
    };
    let result = run_control_stream(recv, &mut send, &ctx, shutdown).await;
    // The slot is free as soon as the session's protocol is over.
    drop(slot);
    match result {
        Ok((SessionEnd::ClientLeft, _)) => {
            info!(%remote, client = %client_name, "session closed by client");
            let _ = tokio::time::timeout(ERROR_LINGER, connection.closed()).await;
            connection.close(VarInt::from_u32(CLOSE_OK), b"");
        }
        Ok((SessionEnd::Refused { code, message }, _)) => {
            shared.metrics.refused("protocol");
            warn!(%remote, client = %client_name, code, %message, "session refused");
            let _ = tokio::time::timeout(ERROR_LINGER, connection.closed()).await;
            connection.close(VarInt::from_u32(code.into()), message.as_bytes());
        }
        Ok((SessionEnd::Shutdown, _)) => {
            connection.close(VarInt::from_u32(CLOSE_SHUTDOWN), b"server shutting down");
        }
        Err(error) => {
            // A client that says Goodbye closes at once with application code 0.
            let left = matches!(
                connection.quic_connection().close_reason(),
                Some(wtransport::quinn::ConnectionError::ApplicationClosed(close))
                    if close.error_code == wtransport::quinn::VarInt::from_u32(CLOSE_OK)
            );
            if left {
                info!(%remote, client = %client_name, "session closed by client");
            } else {
                info!(%remote, client = %client_name, %error, "session ended");
            }
        }
    }
}
