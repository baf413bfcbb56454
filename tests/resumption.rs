//! TLS 1.3 resumption against a real server process: a client that comes back
//! in the same run resumes (the server's `pingpong_tls_tickets_accepted_total`
//! counts its ticket), the resumed session still names its client in the
//! server's log and passes the allow-list, a client without a ticket does a
//! full handshake, a certificate reload invalidates every ticket issued
//! before, and a client certificate that expires is refused however the client
//! comes back: with no ticket offered (the TLS refusal says "expired"), or
//! with one (the server checks again as the session opens).

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::http::{get, metric, metrics_addr};
use common::*;
use pingpong::client::Connector;
use pingpong::tls::generate::{issue_leaf, Validity};
use pingpong::tls::{client_tls_config, store, LeafRole, TlsMaterial};

/// How long the short-lived client certificate lasts: one session, then it
/// expires.
const SHORT_LIFE: time::Duration = time::Duration::seconds(3);

/// A server on the certificates of `paths` with `extra` arguments and its
/// metrics endpoint; that endpoint's address.
fn server_with_metrics(
    paths: &pingpong::tls::CertPaths,
    extra: &[&str],
) -> (ServerProcess, std::net::SocketAddr) {
    let mut args = strings(&["--metrics", "127.0.0.1:0"]);
    args.extend(strings(extra));
    args.extend(tls_args(paths, LeafRole::Server));
    let server = ServerProcess::start(&args, &[]);
    let ops = metrics_addr(&server);
    (server, ops)
}

/// The server's count of session tickets accepted.
fn tickets_accepted(ops: std::net::SocketAddr) -> f64 {
    metric(
        &get(ops, "/metrics").1,
        "pingpong_tls_tickets_accepted_total",
    )
}

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
    let (server, ops) = server_with_metrics(&paths, &["--allow-client", "alice"]);
    let resumptions = || tickets_accepted(ops);
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

/// A client certificate of the CA of `paths` that expires [`SHORT_LIFE`] from
/// now (X.509 times have whole seconds).
fn short_lived_client(paths: &pingpong::tls::CertPaths, dir: &std::path::Path) -> TlsMaterial {
    let now = time::OffsetDateTime::now_utc();
    let (cert, key) = extra_leaf(
        paths,
        dir,
        "brief",
        LeafRole::Client,
        "brief",
        &[],
        Validity {
            not_before: now - time::Duration::hours(1),
            not_after: now + SHORT_LIFE,
        },
    );
    TlsMaterial {
        cert,
        key,
        ca: paths.ca_cert(),
    }
}

/// Waits until the certificate's end has passed: the condition under test is
/// the wall clock itself.
fn outlive(started: time::OffsetDateTime) {
    let end = started + SHORT_LIFE + time::Duration::seconds(1);
    let left = end - time::OffsetDateTime::now_utc();
    if left.is_positive() {
        std::thread::sleep(left.unsigned_abs());
    }
}

#[test]
fn an_expired_client_certificate_is_refused_even_with_a_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let (server, ops) = server_with_metrics(&paths, &[]);
    let tickets = || tickets_accepted(ops);
    let url = server.url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = runtime.enter();
    let started = time::OffsetDateTime::now_utc();
    let material = short_lived_client(&paths, dir.path());

    // pingpong's own client: it offers no ticket once its certificate has
    // expired, so the server's handshake refuses it and says why.
    let ours = Connector::new(&material, None).unwrap();
    // A client that offers its ticket whatever its certificate says: only the
    // server's check as the session opens stands in its way.
    let mut plain = client_tls_config(&material, None).unwrap();
    plain.resumption = rustls::client::Resumption::in_memory_sessions(16);
    let careless = Connector::from_rustls(plain).unwrap();
    session(&runtime, &ours, &url);
    session(&runtime, &careless, &url);
    // Each client now holds a ticket. (A connection the client had to make
    // again, when wtransport's server misread its SETTINGS, already resumed:
    // so count from here.)
    let held = tickets();

    outlive(started);
    let error = runtime
        .block_on(ours.open(&url))
        .err()
        .expect("an expired client certificate was admitted")
        .to_string();
    assert!(error.contains("expired"), "{error}");
    assert_eq!(tickets(), held, "pingpong's client offered its ticket");

    let error = runtime
        .block_on(careless.open(&url))
        .err()
        .expect("a resumed session with an expired certificate was admitted")
        .to_string();
    assert_eq!(tickets(), held + 1.0, "the careless client did not resume");
    assert!(
        error.contains("checked it again as the session opened"),
        "{error}"
    );
    server.wait_for_log(
        "session refused: the client certificate is not valid now",
        Duration::from_secs(10),
    );
}
