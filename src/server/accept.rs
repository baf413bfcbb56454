//! One incoming connection, from the QUIC handshake to the close: the path
//! check, the session limit (a slot per session), the control stream, and the
//! close code that tells the client how it ended.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use wtransport::endpoint::IncomingSession;
use wtransport::{Connection, RecvStream, SendStream, VarInt};

use super::handler::{run_control_stream, SessionContext, SessionEnd, SessionTiming};
use super::metrics::Metrics;
use super::outbox::Outboxes;
use super::session::ServerInfo;
use crate::proto::{ErrorCode, ServerMessage};
use crate::quic_close::tls_refusal;
use crate::service::CLOSE_CLIENT_CERT_INVALID;
use crate::tls::resumption::session_client;

/// What every session of a server shares.
pub(super) struct Shared {
    pub(super) info: ServerInfo,
    pub(super) path: String,
    pub(super) timing: SessionTiming,
    pub(super) outboxes: Mutex<Outboxes>,
    pub(super) sessions: AtomicUsize,
    pub(super) max_sessions: usize,
    pub(super) metrics: Arc<Metrics>,
}

/// Application close code of a session that ended normally.
pub(super) const CLOSE_OK: u32 = 0;
/// Application close code sent to sessions when the server shuts down.
pub(super) const CLOSE_SHUTDOWN: u32 = 0x10;
/// How long the server waits for a refused client to read its `Error` frame and
/// close, before closing the connection itself.
const ERROR_LINGER: Duration = Duration::from_secs(1);

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

/// One incoming connection: handshake, path check, control stream, close.
pub(super) async fn handle_incoming(
    incoming: IncomingSession,
    shared: &Shared,
    shutdown: &CancellationToken,
) {
    // A task keeps room for its future's largest state for its whole life, and
    // the setup's (wtransport's handshake and CONNECT futures) is the largest:
    // boxed, it is freed once the session is set up, so that an idle session
    // holds only what serving it needs (its task: 2.5 KiB instead of 4.4).
    if let Some(session) = Box::pin(set_up(incoming, shared, shutdown)).await {
        serve(session, shared, shutdown).await;
    }
}

/// A session set up: its connection, control stream and slot.
struct Established<'a> {
    remote: SocketAddr,
    client_name: String,
    connection: Connection,
    send: SendStream,
    recv: RecvStream,
    /// Held while the session's protocol runs.
    slot: SessionSlot<'a>,
}

/// The handshake, the path check, the client certificate's dates, the control
/// stream and the session limit; `None` when the connection ended on the way
/// (each way logged and counted here).
async fn set_up<'a>(
    incoming: IncomingSession,
    shared: &'a Shared,
    shutdown: &CancellationToken,
) -> Option<Established<'a>> {
    let remote = incoming.remote_address();
    let request = match incoming.await {
        Ok(request) => request,
        Err(error) => {
            // TLS rejections (no client certificate, unknown CA, expired) land here.
            info!(%remote, %error, "connection refused during handshake");
            shared.metrics.refused(if refused_by_tls(&error) {
                "tls"
            } else {
                "other"
            });
            return None;
        }
    };
    if request.path() != shared.path {
        info!(%remote, path = request.path(), "no session at this path (404)");
        shared.metrics.refused("not_found");
        request.not_found().await;
        return None;
    }
    let connection = match request.accept().await {
        Ok(connection) => connection,
        Err(error) => {
            debug!(%remote, %error, "session request failed");
            return None;
        }
    };
    // The client chain: the handshake's, or the one restored from a ticket.
    let chain = connection.peer_identity();
    let leaf = chain.as_ref().and_then(|c| c.as_slice().first());
    // A resumed session (TLS 1.3 ticket) skipped the handshake's check of the
    // client certificate, and tickets renew on every resumption: its dates may
    // have run out since (the CA and allow-list cannot have changed: see
    // `tls::resumption`).
    let (client, dates) = leaf.map_or((None, Err(rustls::CertificateError::BadEncoding)), |c| {
        session_client(c.der(), std::time::SystemTime::now())
    });
    let client_name = client
        .as_ref()
        .map_or_else(|| "unknown".to_string(), ToString::to_string);
    if let Err(verdict) = dates {
        warn!(%remote, client = %client_name, ?verdict, "session refused: the client certificate is not valid now");
        shared.metrics.refused("tls");
        connection.close(
            VarInt::from_u32(CLOSE_CLIENT_CERT_INVALID),
            b"client certificate refused",
        );
        return None;
    }
    info!(%remote, client = %client_name, "session opened");

    let stream = tokio::select! {
        _ = shutdown.cancelled() => None,
        stream = tokio::time::timeout(shared.timing.hello_timeout, connection.accept_bi()) => Some(stream),
    };
    let (mut send, recv) = match stream {
        Some(Ok(Ok(stream))) => stream,
        Some(Ok(Err(error))) => {
            info!(%remote, client = %client_name, %error, "session closed before its control stream");
            return None;
        }
        Some(Err(_)) => {
            info!(%remote, client = %client_name, "no control stream in time; closing");
            connection.close(
                VarInt::from_u32(crate::proto::ErrorCode::HelloTimeout.as_u16().into()),
                b"no control stream",
            );
            return None;
        }
        None => {
            connection.close(VarInt::from_u32(CLOSE_SHUTDOWN), b"server shutting down");
            return None;
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
        return None;
    };
    Some(Established {
        remote,
        client_name,
        connection,
        send,
        recv,
        slot,
    })
}

/// Runs a set-up session's control stream, then closes its connection with
/// the code that says how it ended.
async fn serve(session: Established<'_>, shared: &Shared, shutdown: &CancellationToken) {
    let Established {
        remote,
        client_name,
        connection,
        mut send,
        recv,
        slot,
    } = session;
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

/// Whether a handshake that failed with `error` was refused by TLS, on either
/// side: ours refused the client's certificate (or none came), or the client's
/// refused ours. Read by [`tls_refusal`] from the close's crypto error code.
fn refused_by_tls(error: &wtransport::error::ConnectionError) -> bool {
    tls_refusal(error).is_some()
}
