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

/// Prints a run as it happens: ping(8)-style text or JSON lines.
pub(crate) struct Printer {
    pub(crate) json: bool,
    pub(crate) payload_size: usize,
    pub(crate) url: String,
    pub(crate) remote: Option<SocketAddr>,
}

impl Printer {
    fn line(&self, text: impl std::fmt::Display) {
        say!("{text}");
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
