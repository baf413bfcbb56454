//! Checks that several test binaries run against a server (Rust or Python):
//! the allow-list, a client without a certificate.

use std::path::Path;
use std::time::Duration;

use pingpong::tls::generate::Validity;
use pingpong::tls::{CertPaths, LeafRole};

use super::*;

/// For a server started with `--allow-client alice` on the CA of `paths`: the
/// folder's own client ("pingpong-client", right CA, not listed) is denied,
/// a client certificate named alice (written into `dir`) is served.
pub fn assert_allow_list_admits_only_alice(server: &ServerProcess, paths: &CertPaths, dir: &Path) {
    let mut args = strings(&[&server.url(), "-c", "1"]);
    args.extend(tls_args(paths, LeafRole::Client));
    let out = client(&args);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the server rejected our client certificate: the server admits only named clients (--allow-client), and not this one. Fix: ask for this certificate's name"),
        "{}",
        describe(&out)
    );
    server.wait_for_log("not on the allow-list", Duration::from_secs(5));
    let (cert, key) = extra_leaf(
        paths,
        dir,
        "alice",
        LeafRole::Client,
        "alice",
        &[],
        Validity::days(30),
    );
    let out = client_with_files(
        &server.url(),
        &cert,
        &key,
        &paths.ca_cert(),
        &["-c", "2", "-i", "0.01"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// A client with the right CA but no certificate (rustls without client auth:
/// the pingpong CLI never does this, a foreign client might) is refused with
/// the "certificate required" alert. Runs its own runtime: call it from a
/// synchronous test.
pub fn assert_no_client_certificate_is_refused(server: &ServerProcess, paths: &CertPaths) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in pingpong::tls::load::certificates(&paths.ca_cert()).unwrap() {
        roots.add(cert).unwrap();
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(pingpong::tls::config::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let url = server.url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime.block_on(async move {
        let connector = pingpong::client::Connector::from_rustls(tls).unwrap();
        match connector.open(&url).await {
            Ok(_) => panic!("a client without a certificate got a session"),
            Err(e) => e,
        }
    });
    assert!(
        error
            .to_string()
            .contains("we sent no client certificate, and the server requires one"),
        "{error}"
    );
}
