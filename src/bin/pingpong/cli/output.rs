//! What a ping run prints as it goes: ping(8)-style lines or JSON objects, one
//! per event, and the time of day for watch lines.

use std::io::Write;
use std::net::SocketAddr;

use pingpong::client::recovery::{Leg, RecoveryObserver};
use pingpong::client::report::{self, SessionFacts};
use pingpong::client::{ClientError, ClientSession, PingEvent};
use pingpong::discovery::Candidate;

/// `println!` for what the command prints. When the reader has gone away
/// (`pingpong discover --watch | head`), the process ends the way a classic
/// command-line tool does, by SIGPIPE, instead of panicking or writing on. The
/// process otherwise ignores SIGPIPE (Rust's default), so that a peer closing
/// a socket is an error to handle, never a death.
macro_rules! say {
    () => {
        $crate::cli::output::say_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::say_line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// One line on stdout (see [`say`]).
pub(crate) fn say_line(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(error) = written {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            pingpong::platform::exit_on_broken_pipe();
        }
    }
}

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

/// What is printed per ping, as ping(8) offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PerPing {
    /// A line per pong, loss, duplicate (or a JSON object).
    Lines,
    /// Nothing: the header and the summary only (`-q`).
    Quiet,
    /// A dot per ping sent, a backspace per pong: what stays is the loss (`-f`).
    Flood,
}

/// How often per-ping output is written out at most when pings are dense:
/// live to the eye, and not a system call per ping at hundreds of thousands of
/// pings a second (the output then costs as much as the pinging). A line after
/// a quiet spell is written at once.
const PER_PING_FLUSH: std::time::Duration = std::time::Duration::from_millis(20);

/// Pings at least this far apart get their line written at once (a few hundred
/// writes a second cost nothing, and tools reading `--json` see each event
/// when it happens).
const SPARSE_PINGS: std::time::Duration = std::time::Duration::from_millis(5);

/// Prints a run as it happens: ping(8)-style text or JSON lines.
pub(crate) struct Printer {
    pub(crate) json: bool,
    pub(crate) per_ping: PerPing,
    pub(crate) payload_size: usize,
    pub(crate) url: String,
    pub(crate) remote: Option<SocketAddr>,
    /// Per-ping output not written yet, and when it last was.
    pending: (Vec<u8>, Option<std::time::Instant>),
    /// Pings are sparse: every line is written at once.
    immediate: bool,
    /// The server's address as the lines show it.
    remote_text: String,
}

impl Printer {
    /// A printer for `json` or text output, `per_ping` as asked, for pings
    /// `interval` apart.
    pub(crate) fn new(
        json: bool,
        per_ping: PerPing,
        payload_size: usize,
        interval: std::time::Duration,
    ) -> Self {
        Self {
            json,
            per_ping,
            payload_size,
            url: String::new(),
            remote: None,
            pending: (Vec::new(), None),
            immediate: interval >= SPARSE_PINGS,
            remote_text: String::new(),
        }
    }

    /// A line about the session (header, reconnection...): written at once,
    /// after any per-ping output still pending.
    fn line(&mut self, text: impl std::fmt::Display) {
        self.flush();
        say!("{text}");
    }

    /// Per-ping output, written at most every [`PER_PING_FLUSH`].
    fn per_ping(&mut self, bytes: &[u8]) {
        self.pending.0.extend_from_slice(bytes);
        if self.immediate
            || self
                .pending
                .1
                .is_none_or(|at| at.elapsed() >= PER_PING_FLUSH)
        {
            self.flush();
        }
    }

    /// Writes the per-ping output not written yet (before the summary).
    pub(crate) fn flush(&mut self) {
        if self.pending.0.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        let written = out.write_all(&self.pending.0).and_then(|()| out.flush());
        if let Err(error) = written {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                pingpong::platform::exit_on_broken_pipe();
            }
        }
        self.pending.0.clear();
        self.pending.1 = Some(std::time::Instant::now());
    }
}

impl RecoveryObserver for Printer {
    fn connected(&mut self, candidate: &Candidate, session: &ClientSession, reconnect: bool) {
        self.url = candidate.url();
        let remote = session.remote_address();
        self.remote = Some(remote);
        self.remote_text = remote.to_string();
        let facts = SessionFacts {
            url: &self.url,
            remote,
            source: candidate.source,
            browsed: candidate.browsed.as_deref(),
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
        match (self.per_ping, event) {
            (PerPing::Quiet, _) => {}
            (PerPing::Flood, PingEvent::Sent { .. }) => self.per_ping(b"."),
            (PerPing::Flood, PingEvent::Pong { .. }) => self.per_ping(b"\x08"),
            (PerPing::Flood, _) => {}
            (PerPing::Lines, _) if self.json => {
                if let Some(value) = report::event_json(event) {
                    self.per_ping(format!("{value}\n").as_bytes());
                }
            }
            (PerPing::Lines, _) => {
                if report::write_event_line(&mut self.pending.0, event, &self.remote_text) {
                    self.per_ping(&[]);
                }
            }
        }
    }

    fn session_lost(&mut self, error: &ClientError) {
        if self.json {
            self.line(serde_json::json!({"event": "session_lost", "reason": error.to_string()}));
        }
        eprintln!("pingpong: session lost: {error}; reconnecting");
    }

    fn hedging(&mut self, suspect: &Candidate, standby: &Leg) {
        if self.json {
            self.line(serde_json::json!({
                "event": "hedging",
                "suspect": suspect.instance,
                "standby": standby.candidate.instance,
                "url": standby.candidate.url(),
            }));
        }
        eprintln!(
            "pingpong: {} is late to answer; asking {} ({}) too",
            suspect.instance,
            standby.candidate.instance,
            standby.candidate.url()
        );
    }

    fn moved(&mut self, from: &Candidate, to: &Leg) {
        if self.json {
            self.line(serde_json::json!({
                "event": "moved",
                "from": from.instance,
                "instance": to.candidate.instance,
                "url": to.candidate.url(),
            }));
        }
        eprintln!(
            "pingpong: {} ({}) is up; moving there from {} to spread the load",
            to.candidate.instance,
            to.candidate.url(),
            from.instance
        );
    }

    fn standby_ready(&mut self, standby: &Leg) {
        if self.json {
            self.line(serde_json::json!({
                "event": "standby",
                "instance": standby.candidate.instance,
                "url": standby.candidate.url(),
                "remote": standby.session.remote_address().to_string(),
            }));
        }
    }

    fn standby_failed(&mut self, candidate: &Candidate, reason: &str) {
        if self.json {
            self.line(serde_json::json!({
                "event": "standby_failed",
                "instance": candidate.instance,
                "reason": reason,
            }));
        }
        eprintln!(
            "pingpong: no standby session to {} ({}): {reason}",
            candidate.instance,
            candidate.url()
        );
    }

    fn candidate_failed(&mut self, candidate: &Candidate, error: &ClientError) {
        eprintln!(
            "pingpong: skipping {} ({}): {error}",
            candidate.instance,
            candidate.url()
        );
    }
}
