//! A client that fails to reach a discovered server asks the network to verify
//! the record, and the dead server drops out in about a second instead of after
//! its 120 s TTL. The test body runs inside a network namespace it creates.

mod common;

use std::time::{Duration, Instant};

use common::*;
use pingpong::client::Connector;
use pingpong::discovery::mdns::{Browser, SERVICE_TYPE};
use pingpong::discovery::DiscoveryEvent;
use pingpong::tls::{store, CertPaths, LeafRole, TlsMaterial};

#[test]
fn dead_server_drops_out_after_a_failed_connection() {
    if rerun_in_netns("dead_server_drops_out_after_a_failed_connection") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let paths = CertPaths::new(dir.path());
    store::init_single_host(&paths, "verify CA", 1).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut server = ServerProcess::start_advertising_here(
            &strings(&["--instance", "doomed"]),
            &[("PINGPONG_HOME", dir.path())],
        );
        let (browser, mut events) = Browser::start(SERVICE_TYPE, &[]).unwrap();
        let candidate = loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Some(DiscoveryEvent::Added(c))) if c.instance == "doomed" => break c,
                Ok(Some(_)) => continue,
                other => panic!("server never discovered: {other:?}"),
            }
        };
        // Killed: no goodbye, the record stays in the browser's cache.
        send_signal(&server.child, libc::SIGKILL);
        server.child.wait().unwrap();

        let connector = Connector::new(&TlsMaterial::from_dir(&paths, LeafRole::Client), None)
            .unwrap()
            .with_connect_timeout(Duration::from_millis(500));
        assert!(connector.open_candidate(&candidate).await.is_err());
        let asked = Instant::now();
        browser.verify(&candidate);
        let removed = loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Some(DiscoveryEvent::Removed(c))) => break c,
                Ok(Some(_)) => continue,
                other => panic!("dead server never removed: {other:?}"),
            }
        };
        assert_eq!(removed.instance, "doomed");
        let took = asked.elapsed();
        println!("verify removed the dead server after {took:?}");
        assert!(took < Duration::from_secs(5), "took {took:?}");
        browser.shutdown();
    });
}
