//! What a ping run prints as it goes: ping(8)-style lines or JSON objects, one
//! per event, and the time of day for watch lines.

use std::io::Write;
use std::net::SocketAddr;

use pingpong::client::recover::RecoveryObserver;
use pingpong::client::report::{self, SessionFacts};
use pingpong::client::{ClientError, ClientSession, PingEvent};
use pingpong::discovery::Candidate;

/// Wall-clock time of day, UTC, to the millisecond.
pub(crate) fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// Prints a run as it happens: ping(8)-style text or JSON lines.
pub(crate) struct Printer {
    pub(crate) json: bool,
    pub(crate) payload_size: usize,
    pub(crate) url: String,
    pub(crate) remote: Option<SocketAddr>,
}

impl Printer {
    fn line(&self, text: impl std::fmt::Display) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

impl RecoveryObserver for Printer {
    fn connected(&mut self, candidate: &Candidate, session: &ClientSession, reconnect: bool) {
        self.url = candidate.url();
        let remote = session.remote_address();
        self.remote = Some(remote);
        let facts = SessionFacts {
            url: &self.url,
            remote,
            source: candidate.source,
            welcome: session.welcome(),
            server_identity: session.server_identity(),
            payload_size: self.payload_size,
        };
        match (self.json, reconnect) {
            (true, false) => self.line(report::header_json(&facts)),
            (false, false) => self.line(report::header_line(&facts)),
            (true, true) => {
                let mut value = report::header_json(&facts);
                value["event"] = "reconnected".into();
                self.line(value);
            }
            (false, true) => self.line(format!("reconnected: {}", report::header_line(&facts))),
        }
    }

    fn ping_event(&mut self, event: &PingEvent) {
        if self.json {
            self.line(report::event_json(event));
        } else if let Some(remote) = self.remote {
            self.line(report::event_line(event, remote));
        }
    }

    fn session_lost(&mut self, error: &ClientError) {
        if self.json {
            self.line(serde_json::json!({"event": "session_lost", "reason": error.to_string()}));
        }
        eprintln!("pingpong: session lost: {error}; reconnecting");
    }

    fn candidate_failed(&mut self, candidate: &Candidate, error: &ClientError) {
        eprintln!(
            "pingpong: skipping {} ({}): {error}",
            candidate.instance,
            candidate.url()
        );
    }
}
