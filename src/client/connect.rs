//! Connecting: QUIC + mTLS + WebTransport session + control stream + Hello/Welcome.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wtransport::endpoint::endpoint_side;
use wtransport::{Connection, Endpoint, RecvStream, SendStream, VarInt};

use super::error::{classify_connecting, classify_connection, refused_as_opened, AttemptContext};
use super::handshake::{handshake, Resume, Welcome};
use super::lanes::{Lane, Lanes, Turn};
use super::pinger::{run_lanes, PingEvent, PingRun};
use super::race::{race_candidate, Dial};
use super::resolver::{dialling, KnownAddresses};
use super::suspicion::SessionClock;
use super::ClientError;
use crate::discovery::{AddressFamily, Candidate, Source};
use crate::framed::{write_message, FramedReader};
use crate::proto::{ClientMessage, MAX_VERSION};
use crate::quic_close::settings_misread;
use crate::tls::server_verifier::ServerIdentity;
use crate::tls::{client_tls_config_recording, PeerIdentity, Rejections, TlsMaterial};
use crate::transport::{CONNECT_TIMEOUT, IDLE_TIMEOUT, KEEP_ALIVE_INTERVAL};

/// How long the endpoint's own close waits for its connections' closes to
/// leave: the driver sends a CONNECTION_CLOSE within microseconds of its next
/// turn; a lost one only makes the server time the connection out.
const STRAGGLER_CLOSE: Duration = Duration::from_millis(5);

/// How long [`ClientSession::close`] waits for its Goodbye to be acknowledged:
/// a round trip; the bound only matters on a dead path.
const CLOSE_SENT: Duration = Duration::from_millis(50);

/// One client endpoint (one UDP socket) and the TLS configuration it verifies
/// servers with.
struct Dialer {
    endpoint: Endpoint<endpoint_side::Client>,
    tls: rustls::ClientConfig,
}

impl Dialer {
    fn new(
        tls: rustls::ClientConfig,
        known: &KnownAddresses,
        connect_timeout: Duration,
    ) -> std::io::Result<Self> {
        Ok(Self {
            endpoint: client_endpoint(&tls, known, connect_timeout)?,
            tls,
        })
    }

    /// A new socket whose handshakes last `connect_timeout`; the old one is
    /// kept if none can be had (a handshake then gives up after its idle
    /// timeout, and says how long it really waited).
    fn retime(&mut self, known: &KnownAddresses, connect_timeout: Duration) {
        match client_endpoint(&self.tls, known, connect_timeout) {
            Ok(endpoint) => self.endpoint = endpoint,
            Err(error) => {
                tracing::warn!(%error, "cannot apply the connect timeout to a new socket")
            }
        }
    }

    async fn shutdown(&self) {
        self.endpoint.close(VarInt::from_u32(0), b"goodbye");
        // Sessions closed with `ClientSession::close`, and what is left (a
        // race's cancelled attempts), get a moment for their closes to be
        // sent, not QUIC's whole draining period (three probe timeouts, tens
        // of milliseconds even on loopback).
        let _ = tokio::time::timeout(STRAGGLER_CLOSE, self.endpoint.wait_idle()).await;
    }
}

/// Opens mutually-authenticated sessions to servers. Servers found over mDNS
/// are dialled from a second endpoint whose verifier checks the CA but not the
/// host name (an mDNS name is not an identity; see
/// [`server_verifier`](crate::tls::server_verifier)); every other server, from
/// one that checks the name too. rustls verifies on QUIC's driver task, so the
/// choice is made by endpoint, not per call.
pub struct Connector {
    strict: Dialer,
    lan: Option<Dialer>,
    known: KnownAddresses,
    connect_timeout: Duration,
    server_name: Option<String>,
    version: u16,
    family: AddressFamily,
    /// Why our verifier refused each server it refused, by name.
    rejections: Arc<Rejections>,
}

impl Dial for Connector {
    type Session = ClientSession;

    fn family(&self) -> AddressFamily {
        Connector::family(self)
    }

    fn connect_timeout(&self) -> Duration {
        Connector::connect_timeout(self)
    }

    fn open_at<'a>(
        &'a self,
        candidate: &'a Candidate,
        address: Option<std::net::SocketAddr>,
        resume: Resume,
    ) -> impl std::future::Future<Output = Result<ClientSession, ClientError>> + Send + 'a {
        Connector::open_at(self, candidate, address, resume)
    }
}

impl Connector {
    /// A connector that presents `material`'s certificate and verifies servers
    /// against its CA. With `server_name`, server certificates must carry that
    /// name instead of the host the client connects to.
    pub fn new(material: &TlsMaterial, server_name: Option<&str>) -> Result<Self, ClientError> {
        let rejections = Arc::new(Rejections::default());
        let strict = client_tls_config_recording(
            material,
            server_name,
            ServerIdentity::Name,
            Some(rejections.clone()),
        )?;
        let lan = client_tls_config_recording(
            material,
            server_name,
            ServerIdentity::CaOnly,
            Some(rejections.clone()),
        )?;
        let mut connector = Self::from_rustls(strict)?;
        connector.rejections = rejections;
        connector.lan = Some(
            Dialer::new(lan, &connector.known, connector.connect_timeout)
                .map_err(ClientError::Socket)?,
        );
        connector.server_name = server_name.map(str::to_string);
        Ok(connector)
    }

    /// A connector over a ready rustls configuration (TLS 1.3, ALPN `h3`),
    /// used for every server.
    pub fn from_rustls(tls: rustls::ClientConfig) -> Result<Self, ClientError> {
        let known = KnownAddresses::default();
        let strict = Dialer::new(tls, &known, CONNECT_TIMEOUT).map_err(ClientError::Socket)?;
        Ok(Self {
            strict,
            lan: None,
            known,
            connect_timeout: CONNECT_TIMEOUT,
            server_name: None,
            version: MAX_VERSION,
            family: AddressFamily::Any,
            rejections: Arc::default(),
        })
    }

    /// Changes how long connecting may take: one race over a server's (or
    /// every discovered server's) addresses, each attempt included.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.strict.retime(&self.known, timeout);
        if let Some(lan) = &mut self.lan {
            lan.retime(&self.known, timeout);
        }
        self
    }

    /// How long connecting may take.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Changes the protocol version offered in `Hello` (for testing servers).
    pub fn with_protocol_version(mut self, version: u16) -> Self {
        self.version = version;
        self
    }

    /// A session opened outside a run ([`open`](Self::open)) is a new client.
    fn fresh(&self) -> Resume {
        Resume::new_client()
    }

    /// Connects to a discovered candidate, racing its known addresses (see
    /// [`race`](super::race)). A name the user or DNS gave must be in the
    /// server certificate; a host name from mDNS is not an identity, and only
    /// the CA, validity and EKU are checked (see
    /// [`server_verifier`](crate::tls::server_verifier)).
    pub async fn open_candidate(
        &self,
        candidate: &Candidate,
    ) -> Result<ClientSession, ClientError> {
        self.open_candidate_resuming(candidate, self.fresh()).await
    }

    /// Like [`open_candidate`](Self::open_candidate), as the client of a run that
    /// is resuming (its own client id and `Hello.resume_after`).
    pub async fn open_candidate_resuming(
        &self,
        candidate: &Candidate,
        resume: Resume,
    ) -> Result<ClientSession, ClientError> {
        race_candidate(self, candidate, resume).await
    }

    /// One attempt: `candidate` at `address` (`None`: its host name, resolved).
    pub async fn open_at(
        &self,
        candidate: &Candidate,
        address: Option<std::net::SocketAddr>,
        resume: Resume,
    ) -> Result<ClientSession, ClientError> {
        let dialer = match (&self.lan, candidate.source) {
            (Some(lan), Source::Mdns) => lan,
            _ => &self.strict,
        };
        let url = candidate.url();
        match address {
            Some(address) => dialling(address, self.open_on(dialer, &url, resume)).await,
            None => self.open_on(dialer, &url, resume).await,
        }
    }

    /// Closes every connection and waits (briefly) until their closes are on
    /// the wire, so that servers hear the client leave rather than time it out.
    /// Call before the program exits.
    pub async fn shutdown(&self) {
        match &self.lan {
            Some(lan) => tokio::join!(self.strict.shutdown(), lan.shutdown()).0,
            None => self.strict.shutdown().await,
        }
    }

    /// The IP versions this connector uses.
    pub fn family(&self) -> AddressFamily {
        self.family
    }

    /// Uses only IPv4 or only IPv6 addresses.
    pub fn with_family(mut self, family: AddressFamily) -> Self {
        self.family = family;
        self.known.set_family(family);
        self
    }

    /// Connects to `url` (`https://host:port/path`) and completes Hello/Welcome.
    pub async fn open(&self, url: &str) -> Result<ClientSession, ClientError> {
        self.open_resuming(url, self.fresh()).await
    }

    /// Like [`open`](Self::open), telling the server which pongs the client
    /// already has (`Hello.resume_after`).
    pub async fn open_resuming(
        &self,
        url: &str,
        resume: Resume,
    ) -> Result<ClientSession, ClientError> {
        self.open_on(&self.strict, url, resume).await
    }

    async fn open_on(
        &self,
        dialer: &Dialer,
        url: &str,
        resume: Resume,
    ) -> Result<ClientSession, ClientError> {
        let ctx = AttemptContext {
            target: url,
            started: std::time::Instant::now(),
            server_name: self.server_name.as_deref(),
            rejections: &self.rejections,
        };
        // A verdict left by an earlier, abandoned attempt is not this one's.
        let _ = self.rejections.take(&super::error::dialled_name(url));
        let attempt = async {
            let connection = match dialer.endpoint.connect(url).await {
                // A wtransport server misread our SETTINGS (a frame split
                // across packets): once more, on a new connection.
                Err(error) if settings_misread(&error) => {
                    tracing::debug!(%url, "the server misread this client's HTTP/3 SETTINGS; connecting again");
                    dialer.endpoint.connect(url).await
                }
                attempt => attempt,
            }
            .map_err(|e| classify_connecting(e, &ctx))?;
            // The server may refuse a resumed session's certificate as it
            // opens: that close explains whatever failed next.
            let refused = |error| refused_as_opened(&connection).unwrap_or(error);
            let opening = connection
                .open_bi()
                .await
                .map_err(|e| refused(classify_connection(e, &ctx)))?;
            let (mut writer, recv) = opening.await.map_err(|e| {
                refused(ClientError::Connection {
                    target: url.to_string(),
                    reason: format!("cannot open the control stream: {e}"),
                })
            })?;
            let mut reader = FramedReader::new(recv);
            let welcome = handshake(
                &mut reader,
                &mut writer,
                self.version,
                resume.client_id,
                resume.after,
            )
            .await
            .map_err(refused)?;
            let server_identity = connection.peer_identity().and_then(|chain| {
                chain
                    .as_slice()
                    .first()
                    .and_then(|c| PeerIdentity::from_der(c.der()))
            });
            // QUIC's RTT after the handshake: the session's first sample.
            let clock = SessionClock::new(Some(connection.rtt()));
            Ok(ClientSession {
                connection,
                reader,
                writer,
                welcome,
                server_identity,
                clock,
            })
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                target: url.to_string(),
                timeout: ctx.started.elapsed(),
            }),
        }
    }
}

/// A client endpoint. Its idle timeout is the connect timeout (at least
/// [`IDLE_TIMEOUT`]): until the server's transport parameters arrive that is
/// how long QUIC keeps retransmitting a handshake nobody answers, so
/// `--connect-timeout` is honoured; once they have, the smaller of the two
/// sides' values applies, and pingpong servers advertise [`IDLE_TIMEOUT`].
fn client_endpoint(
    tls: &rustls::ClientConfig,
    known: &KnownAddresses,
    connect_timeout: Duration,
) -> std::io::Result<Endpoint<endpoint_side::Client>> {
    // A day bounds what a user may type (QUIC's limit is 2^62 ms).
    let idle = IDLE_TIMEOUT
        .max(connect_timeout)
        .min(Duration::from_secs(86_400));
    let build = |builder: wtransport::config::ClientConfigBuilder<
        wtransport::config::states::WantsRootStore,
    >| {
        builder
            .with_custom_tls(tls.clone())
            .keep_alive_interval(Some(KEEP_ALIVE_INTERVAL))
            .max_idle_timeout(Some(idle))
            .expect("a day fits a QUIC varint")
            .dns_resolver(known.clone())
            .build()
    };
    // Dual-stack when the machine has IPv6, IPv4 only otherwise.
    Endpoint::client(build(
        wtransport::ClientConfig::builder().with_bind_default(),
    ))
    .or_else(|_| {
        Endpoint::client(build(
            wtransport::ClientConfig::builder()
                .with_bind_address((std::net::Ipv4Addr::UNSPECIFIED, 0).into()),
        ))
    })
}

/// An established session: Welcome received, ready to ping.
pub struct ClientSession {
    connection: Connection,
    reader: FramedReader<RecvStream>,
    writer: SendStream,
    welcome: Welcome,
    server_identity: Option<PeerIdentity>,
    clock: SessionClock,
}

impl Lane for ClientSession {
    type Reader = RecvStream;
    type Writer = SendStream;
    fn streams(&mut self) -> (&mut FramedReader<RecvStream>, &mut SendStream) {
        (&mut self.reader, &mut self.writer)
    }
    fn clock(&mut self) -> &mut SessionClock {
        &mut self.clock
    }
}

impl ClientSession {
    /// What the server said in `Welcome`.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// The verified server certificate's identity.
    pub fn server_identity(&self) -> Option<&PeerIdentity> {
        self.server_identity.as_ref()
    }

    /// The server's address.
    pub fn remote_address(&self) -> std::net::SocketAddr {
        let addr = self.connection.remote_address();
        std::net::SocketAddr::new(addr.ip().to_canonical(), addr.port())
    }

    /// Sends `run`'s unanswered pings again on this session (a new one after a
    /// loss), counting their time from now.
    pub async fn resend(&mut self, run: &mut PingRun) -> Result<(), ClientError> {
        let mut resend = Vec::new();
        let now = tokio::time::Instant::now();
        for seq in run.resend(now, &mut resend)? {
            self.clock.sent(seq, now);
        }
        if !resend.is_empty() {
            self.writer
                .write_all(&resend)
                .await
                .map_err(|e| ClientError::SessionLost(e.to_string()))?;
        }
        Ok(())
    }

    /// Runs `run` on this session alone (resending its unanswered pings
    /// first) until it is finished or `stop` is cancelled; a session that
    /// stops answering is lost (see [`Liveness`](super::run::Liveness)).
    pub async fn ping(
        &mut self,
        run: &mut PingRun,
        stop: &CancellationToken,
        mut on_event: impl FnMut(&PingEvent) + Send,
    ) -> Result<(), ClientError> {
        self.resend(run).await?;
        let mut lanes = Lanes::new(&mut *self);
        let result = loop {
            match run_lanes(&mut lanes, run, stop, None, &mut on_event).await {
                Ok(Turn::Finished) => break Ok(()),
                Ok(_) => continue, // nothing to hedge with: wait for the stall
                Err(error) => break Err(error),
            }
        };
        self.explain(result)
    }

    /// Prefers the connection's own reason (e.g. "server shutting down") to a
    /// bare stream error.
    pub fn explain<T>(&self, result: Result<T, ClientError>) -> Result<T, ClientError> {
        match (result, self.connection.quic_connection().close_reason()) {
            (Err(ClientError::SessionLost(_)), Some(reason)) => Err(ClientError::SessionLost(
                wtransport::error::ConnectionError::from(reason).to_string(),
            )),
            (result, _) => result,
        }
    }

    /// Says Goodbye and closes the connection once the Goodbye is
    /// acknowledged, so that the server knows the client left whatever becomes
    /// of the close. The close code (0, "goodbye") tells the server the same as
    /// the Goodbye. QUIC's driver sends the CONNECTION_CLOSE on its next turn;
    /// a program about to exit calls [`Connector::shutdown`], which gives it
    /// that turn.
    pub async fn close(mut self) {
        let _ = write_message(&mut self.writer, &ClientMessage::Goodbye).await;
        // The Goodbye acknowledged (a round trip): the server knows the client
        // left whatever becomes of the CONNECTION_CLOSE below, which can race
        // with a packet the driver was already sending.
        let _ = tokio::time::timeout(CLOSE_SENT, self.writer.finish()).await;
        self.connection.close(VarInt::from_u32(0), b"goodbye");
    }
}
