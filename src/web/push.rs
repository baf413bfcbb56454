//! The WebTransport endpoint the page connects to: checks the peer, the path,
//! the token and the origin, then sends the dashboard's JSON snapshot on a
//! unidirectional stream, one line per change. The browser only ever talks to
//! this agent, never to the servers (it cannot present a client certificate).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use wtransport::endpoint::endpoint_side::Server;
use wtransport::endpoint::IncomingSession;
use wtransport::Endpoint;

use super::access::Access;
use super::cert::{endpoint_config, BrowserCert};
use super::http::PageConfig;
use super::WebError;

/// Path of the update stream.
pub const UPDATES_PATH: &str = "/updates";
/// Pages connected at once: a few tabs, not a crowd.
const MAX_PAGES: usize = 16;

/// The certificate is replaced this often: well inside its 13 days, so that an
/// agent left running for weeks keeps serving new pages (a page fetches the new
/// hash from `/config.json` when it reconnects).
pub const RENEW_EVERY: Duration = Duration::from_secs(6 * 24 * 3600);

/// Accepts pages until `stop` is cancelled, renewing the certificate every
/// [`RENEW_EVERY`].
pub async fn serve(
    endpoint: Endpoint<Server>,
    access: Arc<Access>,
    page: Arc<PageConfig>,
    snapshots: watch::Receiver<Arc<String>>,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_PAGES));
    let mut renew =
        tokio::time::interval_at(tokio::time::Instant::now() + RENEW_EVERY, RENEW_EVERY);
    loop {
        let incoming = tokio::select! {
            _ = stop.cancelled() => break,
            _ = renew.tick() => {
                renew_certificate(&endpoint, &page);
                continue;
            }
            incoming = endpoint.accept() => incoming,
        };
        let access = access.clone();
        let snapshots = snapshots.clone();
        let stop = stop.clone();
        let slots = slots.clone();
        tokio::spawn(async move { serve_page(incoming, &access, snapshots, &slots, &stop).await });
    }
    endpoint.close(0u32.into(), b"agent stopping");
}

/// A fresh certificate for new page sessions; open ones keep theirs.
fn renew_certificate(endpoint: &Endpoint<Server>, page: &PageConfig) {
    let renewed = endpoint
        .local_addr()
        .map_err(|e| WebError::Certificate(e.to_string()))
        .and_then(|addr| {
            let cert = BrowserCert::generate(Some(addr.ip()).filter(|ip| !ip.is_unspecified()))?;
            let config = endpoint_config(addr, &cert)?;
            endpoint
                .reload_config(config, false)
                .map_err(|e| WebError::Certificate(e.to_string()))?;
            Ok(cert.sha256)
        });
    match renewed {
        Ok(hash) => {
            *page.cert_sha256.write().expect("hash lock") = hash;
            info!("dashboard certificate renewed");
        }
        Err(error) => warn!(%error, "cannot renew the dashboard certificate"),
    }
}

async fn serve_page(
    incoming: IncomingSession,
    access: &Access,
    mut snapshots: watch::Receiver<Arc<String>>,
    slots: &Semaphore,
    stop: &CancellationToken,
) {
    let request = match incoming.await {
        Ok(request) => request,
        Err(error) => {
            debug!(%error, "page handshake failed");
            return;
        }
    };
    let remote = request.remote_address();
    let (path, query) = request
        .path()
        .split_once('?')
        .unwrap_or((request.path(), ""));
    let origin_ok = request.origin().is_none_or(|origin| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|host| access.host_allowed(host))
    });
    if !access.peer_allowed(remote.ip()) || !origin_ok {
        warn!(%remote, origin = ?request.origin(), "page refused: not from this machine's own page");
        request.forbidden().await;
        return;
    }
    if path != UPDATES_PATH {
        request.not_found().await;
        return;
    }
    if !access.token_in_query(query) {
        warn!(%remote, "page refused: wrong or missing token");
        request.forbidden().await;
        return;
    }
    let Ok(_slot) = slots.try_acquire() else {
        request.too_many_requests().await;
        return;
    };
    let connection = match request.accept().await {
        Ok(connection) => connection,
        Err(error) => {
            debug!(%remote, %error, "page session failed");
            return;
        }
    };
    info!(%remote, "page connected");
    let mut stream = match connection.open_uni().await {
        Ok(opening) => match opening.await {
            Ok(stream) => stream,
            Err(error) => {
                debug!(%remote, %error, "cannot open the update stream");
                return;
            }
        },
        Err(error) => {
            debug!(%remote, %error, "cannot open the update stream");
            return;
        }
    };
    loop {
        let snapshot = snapshots.borrow_and_update().clone();
        let mut line = Vec::with_capacity(snapshot.len() + 1);
        line.extend_from_slice(snapshot.as_bytes());
        line.push(b'\n');
        // A page that stops reading must not hold its slot forever.
        let written = tokio::select! {
            written = stream.write_all(&line) => written.is_ok(),
            _ = connection.closed() => false,
            _ = stop.cancelled() => false,
        };
        if !written {
            break;
        }
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { break },
            _ = connection.closed() => break,
            _ = stop.cancelled() => break,
        }
    }
    info!(%remote, "page disconnected");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renewal_replaces_the_certificate_and_the_hash_pages_pin() {
        let cert = BrowserCert::generate(None).unwrap();
        let endpoint =
            Endpoint::server(endpoint_config("127.0.0.1:0".parse().unwrap(), &cert).unwrap())
                .unwrap();
        let page = PageConfig {
            webtransport_port: endpoint.local_addr().unwrap().port(),
            cert_sha256: cert.sha256.into(),
        };
        renew_certificate(&endpoint, &page);
        assert_ne!(*page.cert_sha256.read().unwrap(), cert.sha256);
    }
}
