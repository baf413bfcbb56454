//! The small HTTP/1 endpoints (the server's `/metrics`, `/healthz` and
//! `/readyz`; the dashboard's page) share one serve loop: accept, back off
//! while accepting fails (a process out of file descriptors must not spin a
//! core), one task per connection, stop when cancelled.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// First pause after a failed accept. EMFILE and ENFILE clear as connections
/// close, within milliseconds to seconds; 10 ms costs nothing when the error
/// was a one-off.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Longest pause while accepting keeps failing: the endpoint is back within a
/// second of the cause going away, and the log gets one line a second at most.
pub const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Connections served at once. A Prometheus scraper, a probe or two and a
/// person with curl need a handful; the bound stops a flood of connections
/// from taking a task and a file descriptor each without end. A connection over
/// it is closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// A request's head must arrive within this (and an idle kept-alive connection
/// is closed after it): a scraper sends its request at once, so only a peer
/// that holds a slot open (slowloris) is cut off.
pub const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The content type of Prometheus' text exposition (OpenMetrics).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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

/// The pause after `current` when accepting fails again.
pub fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_ACCEPT_BACKOFF)
}

/// Serves `listener` until `stop` is cancelled: each connection from a peer
/// that `admit` allows gets a task answering its requests with `respond`, up
/// to [`MAX_CONNECTIONS`] at once. `what` names the endpoint in logs.
pub async fn serve(
    listener: tokio::net::TcpListener,
    what: &'static str,
    admit: impl Fn(SocketAddr) -> bool,
    respond: Responder,
    stop: CancellationToken,
) {
    let mut backoff = ACCEPT_BACKOFF;
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    backoff = ACCEPT_BACKOFF;
                    accepted
                }
                Err(error) => {
                    warn!(%error, what, pause = ?backoff, "cannot accept a connection; pausing");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = next_backoff(backoff);
                    continue;
                }
            },
        };
        if !admit(peer) {
            debug!(%peer, what, "connection refused: not an allowed peer");
            continue;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            debug!(%peer, what, limit = MAX_CONNECTIONS, "connection refused: too many open");
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
                .header_read_timeout(REQUEST_HEAD_TIMEOUT)
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

    #[test]
    fn the_backoff_doubles_up_to_its_bound() {
        let mut pause = ACCEPT_BACKOFF;
        let mut seen = vec![pause];
        for _ in 0..10 {
            pause = next_backoff(pause);
            seen.push(pause);
        }
        assert_eq!(seen[1], Duration::from_millis(20));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*seen.last().unwrap(), MAX_ACCEPT_BACKOFF);
    }

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

    #[tokio::test]
    async fn connections_over_the_limit_are_closed_and_a_slot_frees_for_the_next() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let respond: Responder = Arc::new(|_| Response::new(Full::new(Bytes::from("ok"))));
        let server = tokio::spawn(serve(listener, "test", |_| true, respond, stop.clone()));
        // Connections that send nothing hold every slot.
        let mut held = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            held.push(stream);
        }
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        // One more is closed without an answer (accepts are in order, so the
        // held ones were counted first).
        let mut over = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = over.write_all(request).await;
        let mut reply = Vec::new();
        let _ = over.read_to_end(&mut reply).await;
        assert!(reply.is_empty(), "{}", String::from_utf8_lossy(&reply));
        // One held connection goes: its slot serves the next one.
        drop(held.pop());
        let answered = async {
            loop {
                let mut next = tokio::net::TcpStream::connect(addr).await.unwrap();
                next.write_all(request).await.unwrap();
                let mut reply = String::new();
                let _ = next.read_to_string(&mut reply).await;
                if reply.ends_with("ok") {
                    return;
                }
                // The freed slot is seen once the server reads the close.
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), answered)
            .await
            .expect("a freed slot serves a new connection");
        stop.cancel();
        server.await.unwrap();
    }
}
