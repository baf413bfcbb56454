//! What the benchmarks' raw baselines share: QUIC with pingpong's own timers,
//! TLS without resumption, and a timed echo loop over one stream.

#![allow(dead_code)] // each benchmark uses a different subset

use std::sync::Arc;
use std::time::Instant;

use wtransport::quinn;

/// Raw quinn with pingpong's own timers (500 ms keep-alive, 2 s idle timeout),
/// so that a baseline carries the same keep-alive load as pingpong.
pub fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(pingpong::transport::KEEP_ALIVE_INTERVAL));
    t.max_idle_timeout(Some(pingpong::transport::IDLE_TIMEOUT.try_into().unwrap()));
    Arc::new(t)
}

/// `tls` without session resumption: every handshake is a full one.
pub fn full_handshakes(mut tls: rustls::ClientConfig) -> rustls::ClientConfig {
    tls.resumption = rustls::client::Resumption::disabled();
    tls
}

/// `count` sequential echoes of `len` bytes over one stream, µs each.
pub async fn timed_echoes(
    mut send: impl tokio::io::AsyncWrite + Unpin,
    mut recv: impl tokio::io::AsyncRead + Unpin,
    len: usize,
    count: u64,
) -> Vec<f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let message = vec![0x5a; len];
    let mut back = vec![0u8; len];
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let t = Instant::now();
        send.write_all(&message).await.unwrap();
        recv.read_exact(&mut back).await.unwrap();
        out.push(t.elapsed().as_secs_f64() * 1e6);
    }
    out
}

/// Accepts WebTransport sessions on `endpoint` for ever, whatever their path,
/// and hands each to `serve` on a task of its own.
pub async fn serve_wt_sessions<F, Fut>(
    endpoint: wtransport::Endpoint<wtransport::endpoint::endpoint_side::Server>,
    serve: F,
) where
    F: Fn(wtransport::Connection) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let incoming = endpoint.accept().await;
        let serve = serve.clone();
        tokio::spawn(async move {
            let Ok(request) = incoming.await else { return };
            let Ok(conn) = request.accept().await else {
                return;
            };
            serve(conn).await;
        });
    }
}
