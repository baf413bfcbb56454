//! Client errors, each phrased for the person at the terminal: the cause, then the fix.

use std::time::Duration;

use wtransport::error::{ConnectingError, ConnectionError};

use crate::framed::FramedError;
use crate::quic_close::{tls_refusal, RefusedBy};
use crate::service::CLOSE_CLIENT_CERT_INVALID;
use crate::tls::TlsError;

/// Why a client could not connect or ping.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Certificate material is missing or invalid.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The server address cannot be used.
    #[error("invalid server address {target:?}: {reason}")]
    InvalidTarget {
        /// What was given.
        target: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The host name does not resolve.
    #[error("cannot resolve {target}: {reason}")]
    Resolve {
        /// The server URL.
        target: String,
        /// The resolver's complaint.
        reason: String,
    },
    /// The client's UDP socket could not be created.
    #[error("cannot open a UDP socket: {0}")]
    Socket(std::io::Error),
    /// Nothing answered.
    #[error("no answer from {target} within {:.1} s: is a pingpong server running there? (QUIC uses UDP: check the port and any firewall)", .timeout.as_secs_f64())]
    Timeout {
        /// The server URL.
        target: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The server's TLS refused our client certificate.
    #[error("the server rejected our client certificate: {reason}. Fix: {fix}")]
    CertificateRejected {
        /// What the server's TLS alert says.
        reason: String,
        /// What to do about it.
        fix: String,
    },
    /// We do not trust the server's certificate.
    #[error("the server's certificate is not trusted: {reason}. Fix: {fix}")]
    ServerNotTrusted {
        /// What verification found.
        reason: String,
        /// What to do about it.
        fix: String,
    },
    /// The server answered the WebTransport request with an error status.
    #[error("the server has no pingpong service at {target} (session request refused, e.g. 404): check the URL path (the default is /pingpong)")]
    SessionRejected {
        /// The URL.
        target: String,
    },
    /// The server does not speak our protocol version.
    #[error("protocol version not supported by the server: {message}. Fix: use a client and server of the same release")]
    UnsupportedVersion {
        /// The server's explanation.
        message: String,
    },
    /// The server sent an `Error` message.
    #[error("the server refused the session (error {code}): {message}")]
    Refused {
        /// The error code.
        code: u16,
        /// The server's explanation.
        message: String,
    },
    /// The server broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The session ended.
    #[error("the session ended: {0}")]
    SessionLost(String),
    /// The server said `Drain`: it is going away and the client should move
    /// (a restart, a rollout).
    #[error("the session ended: the server is draining: {reason}")]
    Draining {
        /// What the server gave as the reason.
        reason: String,
    },
    /// A session was lost and none could be had again within the reconnect
    /// budget: the unanswered pings are lost.
    #[error("no server could be reached for {:.1} s after the session was lost, so the client gave up (last attempt: {last}). Fix: check that a server is running and reachable, or allow longer with --reconnect-timeout", .waited.as_secs_f64())]
    GaveUp {
        /// How long it tried.
        waited: Duration,
        /// Why the last attempt failed.
        last: Box<ClientError>,
    },
    /// Discovery found no server.
    #[error("no pingpong server found within {timeout:?}. Fix: start one on this network (`pingpong server`), or give its address (`pingpong client HOST[:PORT]`), its DNS name (`--dns NAME`), or a DNS-SD domain where servers are registered (`--dns-sd DOMAIN`)")]
    NothingDiscovered {
        /// How long discovery listened.
        timeout: Duration,
    },
    /// Discovery itself failed (NXDOMAIN, DNS server down, ...).
    #[error("{0}")]
    Discovery(String),
    /// Every discovered server failed.
    #[error("no discovered server could be used: {}", failures.join("; "))]
    NoneReachable {
        /// One line per candidate tried.
        failures: Vec<String>,
    },
    /// Any other connection failure.
    #[error("connection to {target} failed: {reason}")]
    Connection {
        /// The server URL.
        target: String,
        /// What failed.
        reason: String,
    },
}

impl From<FramedError> for ClientError {
    fn from(error: FramedError) -> Self {
        match error {
            FramedError::Frame(e) => {
                ClientError::Protocol(format!("bad frame from the server: {e}"))
            }
            FramedError::Io(e) => ClientError::SessionLost(e.to_string()),
            stalled @ FramedError::Stalled { .. } => ClientError::SessionLost(stalled.to_string()),
        }
    }
}

/// What the client knows about the attempt, for phrasing errors.
pub(crate) struct AttemptContext<'a> {
    pub target: &'a str,
    /// When the attempt started: a timeout reports the time really waited.
    pub started: std::time::Instant,
    pub server_name: Option<&'a str>,
    /// Our verifier's typed verdicts, by the name dialled.
    pub rejections: &'a crate::tls::Rejections,
}

/// Turns a wtransport connection failure into a [`ClientError`] a user can act on.
pub(crate) fn classify_connecting(error: ConnectingError, ctx: &AttemptContext<'_>) -> ClientError {
    let target = ctx.target.to_string();
    match error {
        ConnectingError::InvalidUrl(reason) => ClientError::InvalidTarget { target, reason },
        ConnectingError::DnsLookup(e) => ClientError::Resolve {
            target,
            reason: e.to_string(),
        },
        ConnectingError::DnsNotFound => ClientError::Resolve {
            target,
            reason: "no address found".into(),
        },
        ConnectingError::SessionRejected => ClientError::SessionRejected { target },
        ConnectingError::ConnectionError(e) => classify_connection(e, ctx),
        other => ClientError::Connection {
            target,
            reason: other.to_string(),
        },
    }
}

/// Turns a connection-level failure into a [`ClientError`].
pub(crate) fn classify_connection(error: ConnectionError, ctx: &AttemptContext<'_>) -> ClientError {
    let text = error.to_string();
    if matches!(error, ConnectionError::TimedOut) {
        return ClientError::Timeout {
            target: ctx.target.to_string(),
            timeout: ctx.started.elapsed(),
        };
    }
    if let ConnectionError::ApplicationClosed(close) = &error {
        if let Some(refused) = refused_by_code(close.code().into_inner()) {
            return refused;
        }
    }
    // The server's TLS stack sent an alert, with its own verdict as reason.
    if let Some(refusal) = tls_refusal(&error).filter(|r| r.by == RefusedBy::Peer) {
        let (reason, fix) = describe_alert(refusal.alert, &refusal.reason.to_ascii_lowercase());
        return ClientError::CertificateRejected {
            reason,
            fix: fix.into(),
        };
    }
    // Our own verification of the server certificate failed: its typed
    // verdict, kept by the verifier under the name dialled.
    if matches!(error, ConnectionError::QuicProto(_)) {
        if let Some(verdict) = ctx.rejections.take(&dialled_name(ctx.target)) {
            return server_not_trusted(&verdict, ctx);
        }
    }
    ClientError::Connection {
        target: ctx.target.to_string(),
        reason: text,
    }
}

/// The server's refusal of our client certificate as the session opened
/// ([`CLOSE_CLIENT_CERT_INVALID`]: it checks the certificate again, because a
/// resumed session skipped the handshake's check), if that is how
/// `connection` ended.
pub(crate) fn refused_as_opened(connection: &wtransport::Connection) -> Option<ClientError> {
    match connection.quic_connection().close_reason()? {
        wtransport::quinn::ConnectionError::ApplicationClosed(close) => {
            refused_by_code(close.error_code.into_inner())
        }
        _ => None,
    }
}

/// The refusal an application close `code` stands for, if it is
/// [`CLOSE_CLIENT_CERT_INVALID`].
fn refused_by_code(code: u64) -> Option<ClientError> {
    (code == u64::from(CLOSE_CLIENT_CERT_INVALID)).then(|| ClientError::CertificateRejected {
        reason: "the server checked it again as the session opened and refused it: it has expired (or is not valid yet)".into(),
        fix: "see what the certificate says with `pingpong certs show`, and renew it with `pingpong certs issue client --force` on the CA machine if it has expired".into(),
    })
}

/// The host of an `https://` URL, as rustls saw it (the name the server
/// certificate was checked against, brackets of an IPv6 address removed).
pub(crate) fn dialled_name(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6).to_string(),
        None => authority.split(':').next().unwrap_or(authority).to_string(),
    }
}

/// Why our verifier refused the server, by the verdict's variant.
fn server_not_trusted(verdict: &rustls::CertificateError, ctx: &AttemptContext<'_>) -> ClientError {
    use rustls::CertificateError as Verdict;
    let (reason, fix) = match verdict {
        Verdict::UnknownIssuer | Verdict::BadSignature => (
            "it is not signed by the CA we trust".to_string(),
            "give the client the CA that signed the server certificate (--ca FILE)".to_string(),
        ),
        Verdict::NotValidForName | Verdict::NotValidForNameContext { .. } => {
            let name = ctx.server_name.map_or_else(
                || format!("the host of {}", ctx.target),
                |n| format!("{n:?}"),
            );
            let carries = match verdict {
                Verdict::NotValidForNameContext { presented, .. } if !presented.is_empty() => {
                    format!(" (it carries {})", presented_names(presented))
                }
                _ => String::new(),
            };
            (
                format!("it is not valid for {name}{carries}"),
                "connect by a name the certificate carries, pass --server-name NAME, or reissue it with `pingpong certs issue server --san NAME`".to_string(),
            )
        }
        Verdict::Expired | Verdict::ExpiredContext { .. } => (
            "it has expired".to_string(),
            "renew it with `pingpong certs issue server --force`".to_string(),
        ),
        Verdict::NotValidYet | Verdict::NotValidYetContext { .. } => (
            "it is not valid yet".to_string(),
            "check the clocks of both machines".to_string(),
        ),
        Verdict::InvalidPurpose | Verdict::InvalidPurposeContext { .. } => (
            "it is not a server certificate (no serverAuth EKU)".to_string(),
            "issue a server certificate with `pingpong certs issue server`".to_string(),
        ),
        other => (
            format!("{other:?}"),
            "check the server certificate against the CA (--ca FILE)".to_string(),
        ),
    };
    ClientError::ServerNotTrusted { reason, fix }
}

/// The names a server certificate carries, as rustls lists them
/// (`DnsName("web1.lan")`, `IpAddress(192.0.2.10)`), joined for people.
fn presented_names(presented: &[String]) -> String {
    presented
        .iter()
        .map(|token| {
            let token = token.trim();
            let inner = token
                .split_once('(')
                .map_or(token, |(_, inside)| inside.trim_end_matches(')'));
            inner.trim_matches(|c| c == '"' || c == '\\').to_string()
        })
        .filter(|name| !name.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The server's verdict on our certificate (its TLS alert, RFC 8446 §6.2,
/// and its reason text, lowercase), and what to do about it.
fn describe_alert(alert: u8, lower: &str) -> (String, &'static str) {
    const RENEW: &str =
        "renew it where the CA is (`pingpong certs issue client --name NAME --force`, \
                         or `certs request` here and `certs sign` there)";
    const ISSUE: &str =
        "use a client certificate issued by the server's CA (`pingpong certs issue client` \
                         where that CA is, then --cert/--key or the files in $PINGPONG_HOME)";
    match alert {
        116 => (
            "we sent no client certificate, and the server requires one".into(),
            "give one with --cert/--key, or put client.pem and client.key in $PINGPONG_HOME",
        ),
        48 => ("it is not signed by a CA the server trusts (unknown CA)".into(), ISSUE),
        45 => ("it has expired".into(), RENEW),
        44 => ("it has been revoked".into(), ISSUE),
        42 | 43 | 46 if lower.contains("expired") => ("it has expired".into(), RENEW),
        42 | 43 | 46 if lower.contains("eku") || lower.contains("usage") => (
            "it is not a client certificate (no clientAuth EKU)".into(),
            "use a client certificate (`pingpong certs issue client`), not a server one",
        ),
        42 | 43 | 46 => (
            "the server could not accept it (bad or unsupported certificate)".into(),
            "check it with `pingpong certs show`: it must carry clientAuth and chain to the server's CA",
        ),
        49 => (
            "the server admits only named clients (--allow-client), and not this one".into(),
            "ask for this certificate's name (`pingpong certs show`) to be allowed, or use an allowed certificate",
        ),
        other => (format!("TLS alert {other}"), ISSUE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> AttemptContext<'static> {
        static NONE: std::sync::OnceLock<crate::tls::Rejections> = std::sync::OnceLock::new();
        AttemptContext {
            target: "https://127.0.0.1:4433/pingpong",
            started: std::time::Instant::now(),
            server_name: None,
            rejections: NONE.get_or_init(Default::default),
        }
    }

    #[test]
    fn a_refusal_is_explained_by_the_verdict_variant() {
        let verdict = rustls::CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap(),
            presented: vec![
                "DnsName(\"web1.lan\")".into(),
                "IpAddress(192.0.2.10)".into(),
            ],
        };
        let error = server_not_trusted(&verdict, &ctx()).to_string();
        assert!(
            error.contains("it is not valid for the host of https://127.0.0.1:4433/pingpong (it carries web1.lan, 192.0.2.10)"),
            "{error}"
        );
        let expired = server_not_trusted(&rustls::CertificateError::Expired, &ctx()).to_string();
        assert!(expired.contains("it has expired"), "{expired}");
        let stranger = server_not_trusted(&rustls::CertificateError::UnknownIssuer, &ctx());
        assert!(stranger
            .to_string()
            .contains("not signed by the CA we trust"));
    }

    #[test]
    fn the_dialled_name_is_the_url_host() {
        assert_eq!(dialled_name("https://web1.lan:4433/pingpong"), "web1.lan");
        assert_eq!(dialled_name("https://[::1]:4433/pingpong"), "::1");
        assert_eq!(dialled_name("https://127.0.0.1/x"), "127.0.0.1");
    }

    #[test]
    fn timeout_says_what_to_check() {
        let e = classify_connection(ConnectionError::TimedOut, &ctx());
        assert!(
            e.to_string().contains("is a pingpong server running there"),
            "{e}"
        );
    }
}
