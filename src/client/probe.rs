//! Probing candidates the way the client connects (`discover --probe`): mTLS
//! handshake and Hello/Welcome, timed, or the reason a candidate is unusable.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{ClientError, Connector};
use crate::discovery::Candidate;

/// What probing one candidate found.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeResult {
    /// The session opened: handshake plus Hello/Welcome took this long.
    Ok {
        /// Time to a Welcome.
        handshake: Duration,
        /// Who the verified certificate says the server is (CN and SANs): for
        /// an mDNS candidate, the identity (its host name is not one).
        identity: Option<String>,
    },
    /// It advertises `state=draining`: not probed, not to be used.
    Draining,
    /// It cannot be used, and why.
    Unusable(String),
}

impl ProbeResult {
    /// One short column of text.
    pub fn text(&self) -> String {
        match self {
            ProbeResult::Ok {
                handshake,
                identity,
            } => {
                let cert = identity
                    .as_ref()
                    .map(|id| format!(", cert {id}"))
                    .unwrap_or_default();
                format!("ok {:.1} ms{cert}", handshake.as_secs_f64() * 1000.0)
            }
            ProbeResult::Draining => "draining".into(),
            ProbeResult::Unusable(reason) => reason.clone(),
        }
    }

    /// As a JSON object.
    pub fn json(&self) -> Value {
        match self {
            ProbeResult::Ok {
                handshake,
                identity,
            } => {
                json!({"ok": true, "handshake_ms": super::report::round_ms(handshake.as_secs_f64() * 1000.0), "identity": identity})
            }
            ProbeResult::Draining => json!({"ok": false, "reason": "draining"}),
            ProbeResult::Unusable(reason) => json!({"ok": false, "reason": reason}),
        }
    }
}

/// Short reasons for the table.
fn reason(error: &ClientError) -> String {
    match error {
        ClientError::CertificateRejected { reason, .. } => {
            format!("TLS: server rejected us ({reason})")
        }
        ClientError::ServerNotTrusted { reason, .. } => format!("TLS: untrusted ({reason})"),
        ClientError::Timeout { .. } => "timeout".into(),
        ClientError::SessionRejected { .. } => "no service at that path".into(),
        ClientError::UnsupportedVersion { .. } => "protocol version not supported".into(),
        other => other.to_string(),
    }
}

/// Probes one candidate.
pub async fn probe(connector: &Connector, candidate: &Candidate) -> ProbeResult {
    if !candidate.is_serving() {
        return ProbeResult::Draining;
    }
    let started = Instant::now();
    match connector.open_candidate(candidate).await {
        Ok(session) => {
            let handshake = started.elapsed();
            let identity = session.server_identity().map(ToString::to_string);
            session.close().await;
            ProbeResult::Ok {
                handshake,
                identity,
            }
        }
        Err(error) => ProbeResult::Unusable(reason(&error)),
    }
}

/// Probes every candidate at once; results in the same order.
pub async fn probe_all(connector: &Connector, candidates: &[Candidate]) -> Vec<ProbeResult> {
    futures::future::join_all(candidates.iter().map(|c| probe(connector, c))).await
}
