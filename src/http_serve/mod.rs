//! The small HTTP/1 endpoints (the server's `/metrics`, `/healthz` and
//! `/readyz`; the dashboard's page) share one serve loop: accept, back off
//! while accepting fails (a process out of file descriptors must not spin a
//! core), one task per connection, stop when cancelled. [`metrics`] serves a
//! Prometheus registry on it, the same way for the server and the dashboard.

pub mod metrics;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::backoff::Schedule;

/// Pauses while accepting fails. EMFILE and ENFILE clear as connections
/// close, within milliseconds to seconds: 10 ms first costs nothing when the
/// error was a one-off; doubled per failure; at most a second, so that the
/// endpoint is back within a second of the cause going away and the log gets
/// one line a second at most.
pub const ACCEPT_BACKOFF: Schedule = Schedule {
    first: Duration::from_millis(10),
    factor: 2.0,
    max: Duration::from_secs(1),
};

/// What an endpoint serves at once, and how long a request may take to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; one over is closed at once.
    pub total: usize,
    /// Connections from one address at once; one over is closed at once.
    pub per_peer: usize,
    /// A request's head must arrive within this (an idle kept-alive connection
    /// is closed after it too).
    pub head_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// A Prometheus scraper, the kubelet's probes and a person with curl need a
    /// handful of connections, each from its own address. 64 in all bounds the
    /// tasks and file descriptors a flood can take; 8 per address keeps one
    /// peer from taking them all and locking the probes out. A scraper sends
    /// its request at once, so 10 s only cuts off a peer that holds a
    /// connection open without asking (slowloris).
    fn default() -> Self {
        Self {
            total: 64,
            per_peer: 8,
            head_timeout: Duration::from_secs(10),
        }
    }
}

/// The connections an endpoint is serving, counted against its
/// [`ConnectionLimits`]. Pure bookkeeping: a [`Slot`] is one connection, freed
/// when dropped.
#[derive(Debug)]
pub struct Slots {
    limits: ConnectionLimits,
    open: Mutex<OpenConnections>,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    by_peer: HashMap<IpAddr, usize>,
}

/// One connection being served; its place is given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    peer: IpAddr,
}

impl Slots {
    /// No connection yet.
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: Mutex::new(OpenConnections::default()),
        })
    }

    /// A place for a connection from `peer`, if both limits allow one.
    pub fn take(self: &Arc<Self>, peer: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().expect("slots lock");
        let from_peer = open.by_peer.get(&peer).copied().unwrap_or(0);
        if open.total >= self.limits.total || from_peer >= self.limits.per_peer {
            return None;
        }
        open.total += 1;
        open.by_peer.insert(peer, from_peer + 1);
        Some(Slot {
            slots: self.clone(),
            peer,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("slots lock");
        open.total -= 1;
        if let Some(count) = open.by_peer.get_mut(&self.peer) {
            *count -= 1;
            if *count == 0 {
                open.by_peer.remove(&self.peer);
            }
        }
    }
}

/// A response with `status`, `content_type` and `body`.
pub fn text_response(
    status: hyper::StatusCode,
    content_type: &str,
    body: String,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// What answers one request.
pub type Responder =
    Arc<dyn Fn(&Request<hyper::body::Incoming>) -> Response<Full<Bytes>> + Send + Sync>;

/// Serves `listener` until `stop` is cancelled: each connection from a peer
/// that `admit` allows gets a task answering its requests with `respond`,
/// within the default [`ConnectionLimits`]. `what` names the endpoint in logs.
pub async fn serve(
    listener: tokio::net::TcpListener,
    what: &'static str,
    admit: impl Fn(SocketAddr) -> bool,
    respond: Responder,
    stop: CancellationToken,
) {
    let limits = ConnectionLimits::default();
    serve_within(listener, what, admit, respond, limits, stop).await;
}

/// [`serve`] within `limits`.
pub async fn serve_within(
    listener: tokio::net::TcpListener,
    what: &'static str,
    admit: impl Fn(SocketAddr) -> bool,
    respond: Responder,
    limits: ConnectionLimits,
    stop: CancellationToken,
) {
    let mut failures = 0u32;
    let slots = Slots::new(limits);
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    failures = 0;
                    accepted
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let pause = ACCEPT_BACKOFF.after(failures);
                    warn!(%error, what, ?pause, "cannot accept a connection; pausing");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    continue;
                }
            },
        };
        if !admit(peer) {
            debug!(%peer, what, "connection refused: not an allowed peer");
            continue;
        }
        let Some(slot) = slots.take(peer.ip()) else {
            debug!(%peer, what, ?limits, "connection refused: too many open");
            continue;
        };
        let respond = respond.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let response = respond(&request);
                    async move { Ok::<_, Infallible>(response) }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.head_timeout)
                .serve_connection(io, service)
                .await
            {
                debug!(%peer, %error, what, "connection failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_answers_admitted_peers_and_stops_when_cancelled() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let respond: Responder = Arc::new(|request| {
            Response::new(Full::new(Bytes::from(format!(
                "you asked {}",
                request.uri().path()
            ))))
        });
        let server = tokio::spawn(serve(listener, "test", |_| true, respond, stop.clone()));
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        assert!(reply.ends_with("you asked /hello"), "{reply}");
        stop.cancel();
        server.await.unwrap();
    }

    #[test]
    fn slots_hold_both_limits_and_free_on_drop() {
        let slots = Slots::new(ConnectionLimits {
            total: 3,
            per_peer: 2,
            head_timeout: Duration::from_secs(1),
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let first_a = slots.take(a).unwrap();
        let _second_a = slots.take(a).unwrap();
        assert!(slots.take(a).is_none(), "a third from one peer");
        let _b = slots.take(b).unwrap();
        assert!(slots.take(c).is_none(), "a fourth in all");
        drop(first_a);
        let c_slot = slots.take(c);
        assert!(c_slot.is_some(), "a freed place serves the next");
        assert!(slots.take(a).is_none(), "full again");
        drop(c_slot);
        let _a = slots.take(a).unwrap();
    }

    #[tokio::test]
    async fn a_connection_over_the_limit_is_closed_unanswered() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let respond: Responder = Arc::new(|_| Response::new(Full::new(Bytes::from("ok"))));
        // Longer than the test: only the limit can close a connection here.
        let limits = ConnectionLimits {
            total: 4,
            per_peer: 1,
            head_timeout: Duration::from_secs(3600),
        };
        let server = tokio::spawn(serve_within(
            listener,
            "test",
            |_| true,
            respond,
            limits,
            stop.clone(),
        ));
        // Accepted first (the accept queue is in order), it holds this
        // address's one place by asking nothing.
        let _held = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut over = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = over
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut reply = Vec::new();
        let _ = over.read_to_end(&mut reply).await;
        assert!(reply.is_empty(), "{}", String::from_utf8_lossy(&reply));
        stop.cancel();
        server.await.unwrap();
    }
}
