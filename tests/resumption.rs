//! TLS 1.3 resumption against a real server process: a client that comes back
//! in the same run resumes (the server's `pingpong_tls_resumptions_total`
//! counts it), the resumed session still names its client in the server's log
//! and passes the allow-list, a client without a ticket does a full handshake,
//! and a certificate reload invalidates every ticket issued before.

mod common;

use std::time::Duration;

use common::http::{get, metric, metrics_addr};
use common::*;
use pingpong::client::Connector;
use pingpong::tls::generate::{issue_leaf, Validity};
use pingpong::tls::{store, LeafRole, TlsMaterial};

/// Opens a session (Hello, Welcome) and closes it.
fn session(runtime: &tokio::runtime::Runtime, connector: &Connector, url: &str) {
    runtime.block_on(async {
        let session = connector.open(url).await.expect("session");
        session.close().await;
    });
}

#[test]
fn a_returning_client_resumes_and_keeps_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let alice = extra_leaf(
        &paths,
        dir.path(),
        "alice",
        LeafRole::Client,
        "alice",
        &[],
        Validity::days(2),
    );
    let mut args = strings(&["--metrics", "127.0.0.1:0", "--allow-client", "alice"]);
    args.extend(tls_args(&paths, LeafRole::Server));
    let server = ServerProcess::start(&args, &[]);
    let ops = metrics_addr(&server);
    let resumptions = || metric(&get(ops, "/metrics").1, "pingpong_tls_resumptions_total");
    let url = server.url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = runtime.enter();
    let material = TlsMaterial {
        cert: alice.0.clone(),
        key: alice.1.clone(),
        ca: paths.ca_cert(),
    };

    // The first session is a full handshake; the next two resume.
    let returning = Connector::new(&material, None).unwrap();
    session(&runtime, &returning, &url);
    assert_eq!(resumptions(), 0.0);
    session(&runtime, &returning, &url);
    assert_eq!(resumptions(), 1.0);
    session(&runtime, &returning, &url);
    assert_eq!(resumptions(), 2.0);
    // Each resumed session knew its client, as the allow-list demanded.
    server.wait_for_log_count("session opened", 3, Duration::from_secs(10));
    let opened: Vec<String> = server
        .logs()
        .lines()
        .filter(|l| l.contains("session opened"))
        .map(str::to_string)
        .collect();
    assert_eq!(opened.len(), 3, "{}", server.logs());
    for line in &opened {
        assert!(line.contains("client=alice"), "{line}");
    }

    // Another client (no ticket) does the full handshake.
    let newcomer = Connector::new(&material, None).unwrap();
    session(&runtime, &newcomer, &url);
    assert_eq!(resumptions(), 2.0);

    // A reload (here a new server leaf from the same CA) makes new ticket
    // keys: the returning client's ticket no longer opens, and it gets in by a
    // full handshake.
    let authority = store::load_ca(&paths).unwrap();
    let leaf = issue_leaf(
        &authority,
        LeafRole::Server,
        "localhost",
        &["localhost".into(), "127.0.0.1".into()],
        Validity::days(2),
    )
    .unwrap();
    store::write_file(&paths.leaf_cert(LeafRole::Server), &leaf.cert, false, true).unwrap();
    store::write_file(&paths.leaf_key(LeafRole::Server), &leaf.key, true, true).unwrap();
    server.wait_for_log("certificates reloaded", Duration::from_secs(10));
    session(&runtime, &returning, &url);
    assert_eq!(resumptions(), 2.0);
    // The ticket of that full handshake is from the new keys, and opens.
    session(&runtime, &returning, &url);
    assert_eq!(resumptions(), 3.0);
}
