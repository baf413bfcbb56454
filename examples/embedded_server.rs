//! Embed a pingpong server in your own tokio program: certificates from the
//! zero-config folder ($PINGPONG_HOME), advertised over mDNS, drained on Ctrl-C
//! (or after `--for SECS`) through its shutdown handle.
//!
//! ```sh
//! cargo run --example embedded_server -- --for 60
//! ```

use std::time::Duration;

use pingpong::server::{MdnsOptions, Server, ServerConfig};
use pingpong::tls::{default_home, store, CertPaths, LeafRole, TlsMaterial};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run_for = std::env::args()
        .skip_while(|a| a != "--for")
        .nth(1)
        .map(|s| s.parse().map(Duration::from_secs_f64))
        .transpose()?;

    // A development CA and leaves, made once, shared with the client example.
    let pki = CertPaths::new(default_home());
    if let Some(created) = store::ensure_development_pki(&pki, LeafRole::Server)? {
        println!("{created}");
    }

    let mut config = ServerConfig::new(TlsMaterial::from_dir(&pki, LeafRole::Server));
    config.listen = "[::]:0".parse()?;
    config.instance = "embedded".into();
    config.mdns = Some(MdnsOptions::default());
    let server = Server::bind(config)?;
    println!(
        "listening on port {}, advertised as {}",
        server.local_addr().port(),
        server.mdns_name().unwrap_or_default()
    );

    // The shutdown handle: cancelling it drains (Drain to every session,
    // state=draining in mDNS, bounded wait, goodbye).
    let shutdown = CancellationToken::new();
    let handle = shutdown.clone();
    tokio::spawn(async move {
        let limit = run_for.unwrap_or(Duration::from_secs(u64::from(u32::MAX)));
        tokio::select! {
            _ = tokio::time::sleep(limit) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        handle.cancel();
    });
    server.run(shutdown).await;
    println!("drained and stopped");
    Ok(())
}
