//! What a ping run prints as it goes: ping(8)-style lines or JSON objects, one
//! per event, and the time of day for watch lines.

use std::io::Write;
use std::net::SocketAddr;

use pingpong::client::recover::{Leg, RecoveryObserver};
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
            end_by_sigpipe();
        }
    }
}

/// Ends the process as the default SIGPIPE action would.
fn end_by_sigpipe() -> ! {
    // SAFETY: restoring a signal's default action and raising it have no
    // memory effects; the process ends here.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(128 + libc::SIGPIPE)
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

/// How often flood output is flushed: live to the eye, and not a system call
/// per ping at a hundred thousand pings a second.
const FLOOD_FLUSH: std::time::Duration = std::time::Duration::from_millis(20);

/// Prints a run as it happens: ping(8)-style text or JSON lines.
pub(crate) struct Printer {
    pub(crate) json: bool,
    pub(crate) per_ping: PerPing,
    pub(crate) payload_size: usize,
    pub(crate) url: String,
    pub(crate) remote: Option<SocketAddr>,
    /// Flood output not flushed yet, and when it last was.
    pub(crate) flood: (Vec<u8>, Option<std::time::Instant>),
}

impl Printer {
    /// A printer for `json` or text output, `per_ping` as asked.
    pub(crate) fn new(json: bool, per_ping: PerPing, payload_size: usize) -> Self {
        Self {
            json,
            per_ping,
            payload_size,
            url: String::new(),
            remote: None,
            flood: (Vec::new(), None),
        }
    }

    fn line(&self, text: impl std::fmt::Display) {
        say!("{text}");
    }

    /// Flood marks, flushed at most every [`FLOOD_FLUSH`] unless `now`.
    fn flood_mark(&mut self, mark: u8, now: bool) {
        self.flood.0.push(mark);
        let due = self.flood.1.is_none_or(|at| at.elapsed() >= FLOOD_FLUSH);
        if now || due {
            self.flush_flood();
        }
    }

    /// Writes the flood marks not written yet (before the summary).
    pub(crate) fn flush_flood(&mut self) {
        if self.flood.0.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        let written = out.write_all(&self.flood.0).and_then(|()| out.flush());
        if let Err(error) = written {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                end_by_sigpipe();
            }
        }
        self.flood.0.clear();
        self.flood.1 = Some(std::time::Instant::now());
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
        match (self.per_ping, event) {
            (PerPing::Quiet, _) => {}
            (PerPing::Flood, PingEvent::Sent { .. }) => self.flood_mark(b'.', false),
            (PerPing::Flood, PingEvent::Pong { .. }) => self.flood_mark(0x08, false),
            (PerPing::Flood, _) => {}
            (PerPing::Lines, _) if self.json => {
                if let Some(value) = report::event_json(event) {
                    self.line(value);
                }
            }
            (PerPing::Lines, _) => {
                if let Some(line) = self.remote.and_then(|r| report::event_line(event, r)) {
                    self.line(line);
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
