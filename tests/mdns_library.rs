//! The mDNS parts of the library, driven directly: record verification after a
//! failed connection, and TXT updates. Each test body re-runs itself inside a
//! network namespace it creates.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use pingpong::client::Connector;
use pingpong::discovery::mdns::{Advertisement, Advertiser, Browser, SERVICE_TYPE};
use pingpong::discovery::{DiscoveryEvent, ServerTxt};
use pingpong::proto::ServerState;
use pingpong::tls::{store, CertPaths, LeafRole, TlsMaterial};

#[test]
fn dead_server_drops_out_after_a_failed_connection() {
    if rerun_in_netns("dead_server_drops_out_after_a_failed_connection") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let paths = CertPaths::new(dir.path());
    store::init_single_host(&paths, "verify CA", 30).unwrap();
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
                Ok(Some(DiscoveryEvent::Removed(c, _))) => break c,
                Ok(Some(_)) => continue,
                other => panic!("dead server never removed: {other:?}"),
            }
        };
        assert_eq!(removed.instance, "doomed");
        let took = asked.elapsed();
        println!("verify removed the dead server after {took:?}");
        // The record's TTL is 120 s: a removal well inside it came from the
        // reconfirmation, not from expiry. Its speed (seconds) is a benchmark
        // figure; a bound that tight would fail by load, not by a fault.
        assert!(took < Duration::from_secs(60), "took {took:?}");
        browser.shutdown();
    });
}

#[test]
fn a_txt_update_is_the_same_service_with_new_values() {
    if rerun_in_netns("a_txt_update_is_the_same_service_with_new_values") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut txt = ServerTxt {
            version: 1,
            server_id: Some([7; 16]),
            path: "/pingpong".into(),
            state: ServerState::Serving,
            fingerprint: None,
            load: Some(10),
        };
        let advertiser = Advertiser::start(&Advertisement {
            service_type: SERVICE_TYPE.into(),
            instance: "changing".into(),
            listen: "127.0.0.1:4433".parse().unwrap(),
            txt: txt.to_pairs(),
            interfaces: vec![],
        })
        .unwrap();
        let (browser, mut events) = Browser::start(SERVICE_TYPE, &[]).unwrap();
        let first = loop {
            if let DiscoveryEvent::Added(c) = next_event(&mut events).await {
                break c;
            }
        };
        assert_eq!(first.txt.as_ref().unwrap().state, ServerState::Serving);

        txt.state = ServerState::Draining;
        txt.load = Some(990);
        advertiser.update_txt(&txt.to_pairs()).unwrap();
        let updated = loop {
            match next_event(&mut events).await {
                DiscoveryEvent::Updated(c)
                    if c.txt.as_ref().unwrap().state == ServerState::Draining =>
                {
                    break c
                }
                DiscoveryEvent::Updated(_) => continue,
                other => panic!("expected an update of the same service, got {other:?}"),
            }
        };
        assert_eq!(updated.key, first.key, "same service, not a new one");
        assert_eq!(updated.txt.as_ref().unwrap().load, Some(990));
        assert!(!updated.is_serving());
        assert_eq!(advertiser.fullname(), first.key);

        advertiser.shutdown().await;
        browser.shutdown();
    });
}

async fn next_event(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<DiscoveryEvent>,
) -> DiscoveryEvent {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("no discovery event")
        .expect("browser ended")
}
