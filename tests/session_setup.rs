//! Session setup against a server whose HTTP/3 layer misreads the client's
//! SETTINGS (a wtransport 0.7.2 server drops a SETTINGS frame split across
//! packets when a stream arrives in between, and closes with
//! H3_EXCESSIVE_LOAD: docs/upstream/wtransport-settings-cancel-safety.md):
//! the client connects once more, and only once.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use pingpong::client::{ClientError, Connector};
use pingpong::tls::{server_tls_config, LeafRole, TlsMaterial};
use wtransport::quinn;

/// A QUIC server (mTLS, ALPN h3) that closes every connection with
/// H3_EXCESSIVE_LOAD (0x107) as soon as it is up; it counts them.
fn misreading_server(paths: &pingpong::tls::CertPaths) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let tls = server_tls_config(&TlsMaterial::from_dir(paths, LeafRole::Server)).unwrap();
    let config = quinn::ServerConfig::with_crypto(Arc::new(
        quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap(),
    ));
    let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = endpoint.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Some(incoming) = endpoint.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                if let Ok(connection) = incoming.await {
                    counted.fetch_add(1, Ordering::SeqCst);
                    connection.close(quinn::VarInt::from_u32(0x107), b"");
                }
            });
        }
    });
    (addr, connections)
}

#[tokio::test]
async fn a_settings_misread_is_retried_once_on_a_new_connection() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let (addr, connections) = misreading_server(&paths);
    let connector = Connector::new(&TlsMaterial::from_dir(&paths, LeafRole::Client), None).unwrap();
    let url = format!("https://127.0.0.1:{}/pingpong", addr.port());
    let error = connector
        .open(&url)
        .await
        .err()
        .expect("the server refuses every session");
    assert!(matches!(error, ClientError::Connection { .. }), "{error:?}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "one attempt and one retry: {error}"
    );
    connector.shutdown().await;
}
