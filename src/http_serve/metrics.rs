//! A Prometheus endpoint: `/metrics` from a registry, any other paths its
//! owner answers (the server's `/healthz` and `/readyz`), on a socket bound
//! dual-stack. One function for the server's endpoint and the dashboard's.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::StatusCode;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use super::{serve, text_response, Responder};

/// The content type of Prometheus' text exposition (OpenMetrics).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What a metrics endpoint serves.
pub trait MetricsEndpoint: Send + Sync + 'static {
    /// The registry behind `/metrics`.
    fn registry(&self) -> &Registry;

    /// The answer (status and plain-text body) for a path other than
    /// `/metrics`; `None` is 404.
    fn answer(&self, path: &str) -> Option<(StatusCode, String)> {
        let _ = path;
        None
    }
}

/// The text exposition of `registry`.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; a metric that cannot be encoded is
    // left out rather than failing the scrape.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

/// Serves `endpoint` on `listener` until `stop` is cancelled; `what` names it
/// in logs.
pub async fn serve_metrics<E: MetricsEndpoint>(
    listener: tokio::net::TcpListener,
    what: &'static str,
    endpoint: Arc<E>,
    stop: CancellationToken,
) {
    let respond: Responder = Arc::new(move |request| {
        let path = request.uri().path();
        if path == "/metrics" {
            return text_response(StatusCode::OK, OPENMETRICS, encode(endpoint.registry()));
        }
        let (status, body) = endpoint
            .answer(path)
            .unwrap_or_else(|| (StatusCode::NOT_FOUND, "not found\n".into()));
        text_response(status, "text/plain", body)
    });
    serve(listener, what, |_| true, respond, stop).await;
}

/// Binds an endpoint's socket (so that port 0 gets its real port at once).
/// `[::]` is dual-stack (IPv6 and IPv4, whatever the system's
/// `bindv6only`), like the QUIC listener, and falls back to `0.0.0.0` where
/// IPv6 is unavailable: one `--metrics=[::]:9090` fits IPv4, IPv6 and
/// dual-stack clusters.
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let listener = match addr {
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => match bind_dual_stack(addr) {
            Ok(listener) => listener,
            Err(error) => {
                let v4 = SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, v6.port()));
                tracing::warn!(%error, "IPv6 unavailable, serving metrics on {v4}");
                std::net::TcpListener::bind(v4)?
            }
        },
        addr => std::net::TcpListener::bind(addr)?,
    };
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// A listening TCP socket on `[::]:port` that accepts IPv4 too.
fn bind_dual_stack(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV6, Type::STREAM, None)?;
    socket.set_only_v6(false)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    // The standard library's backlog.
    socket.listen(128)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    #[test]
    fn unspecified_ipv6_serves_ipv4_too() {
        let listener = super::bind("[::]:0".parse().unwrap()).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(false).unwrap();
        let client = std::thread::spawn(move || {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream.write_all(b"v4").unwrap();
        });
        let (mut accepted, from) = listener.accept().unwrap();
        let mut got = [0; 2];
        accepted.read_exact(&mut got).unwrap();
        client.join().unwrap();
        assert_eq!(&got, b"v4");
        assert_eq!(from.ip().to_canonical(), std::net::Ipv4Addr::LOCALHOST);
    }
}
