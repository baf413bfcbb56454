//! Embed a pingpong server and client in one tokio program: a throwaway CA,
//! a server on an ephemeral loopback port, three pings over mTLS.
//!
//! Run with `cargo run --example embedded`.

use std::time::Duration;

use pingpong::client::{Connector, PingEvent, PingOptions, PingRun};
use pingpong::server::{Server, ServerConfig};
use pingpong::tls::{store, CertPaths, LeafRole, TlsMaterial};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Certificates: a CA, a server certificate for localhost, a client certificate.
    let dir = tempfile::tempdir()?;
    let pki = CertPaths::new(dir.path());
    store::init_single_host(&pki, "example CA", 1)?;

    // The server, on port 0: the OS picks a free port.
    let mut config = ServerConfig::new(TlsMaterial::from_dir(&pki, LeafRole::Server));
    config.listen = "127.0.0.1:0".parse()?;
    let server = Server::bind(config)?;
    let url = format!("https://127.0.0.1:{}/pingpong", server.local_addr().port());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(server.run(shutdown.clone()));

    // The client: verifies the server against the CA and presents its own certificate.
    let connector = Connector::new(&TlsMaterial::from_dir(&pki, LeafRole::Client), None)?;
    let mut session = connector.open(&url).await?;
    println!("connected to {:?}", session.welcome().instance);
    let options = PingOptions {
        count: Some(3),
        interval: Duration::from_millis(10),
        ..PingOptions::default()
    };
    let mut run = PingRun::new(&options);
    let result = session
        .ping(&mut run, &CancellationToken::new(), |event| {
            if let PingEvent::Pong { seq, rtt, .. } = event {
                println!("pong seq={seq} rtt={rtt:?}");
            }
        })
        .await;
    session.close().await;
    result?;
    let summary = run.summary();
    println!("{} of {} answered", summary.received, summary.transmitted);

    shutdown.cancel();
    running.await?;
    if summary.lost > 0 {
        return Err("pings were lost".into());
    }
    Ok(())
}
