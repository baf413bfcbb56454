//! The dashboard's state, pure: one row per discovered server, fed by
//! discovery and by the monitors, rendered as the JSON snapshot the page draws.
//! No clocks of its own: callers pass the time.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::discovery::Candidate;
use crate::proto::ServerState;

/// RTT samples kept per server: five minutes at one ping a second.
pub const HISTORY: usize = 300;

/// What the agent knows of a server's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    /// Discovered; no session yet.
    Connecting,
    /// Session open, pongs coming back.
    Serving,
    /// The server said it is going away (TXT or `Drain`).
    Draining,
    /// The last attempt to reach it failed.
    Unreachable,
}

/// One ping's outcome, for the plot: an RTT, or `None` for a lost ping.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Round-trip time in milliseconds; `None` if the ping was lost.
    pub rtt_ms: Option<f64>,
}

/// One server's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Discovery key (the mDNS full name, or the SRV target and port).
    pub key: String,
    /// Instance name.
    pub instance: String,
    /// Where it was found: `mdns`, `dns`, `dns-sd`, `static`.
    pub source: String,
    /// For DNS-SD: the domain browsed.
    pub domain: Option<String>,
    /// For DNS-SD: how the client knew the domain (`--dns-sd`, or the
    /// `b._dns-sd._udp` record and why it was asked).
    pub learnt: Option<String>,
    /// The address of the current session, else the advertised ones.
    pub address: String,
    /// Session state.
    pub state: RowState,
    /// Protocol version of the session.
    pub version: Option<u16>,
    /// SHA-256 of the server certificate seen in the session (else as advertised).
    pub fingerprint: Option<String>,
    /// Most recent RTT, milliseconds.
    pub rtt_ms: Option<f64>,
    /// Pings sent over every session.
    pub sent: u64,
    /// Pings lost.
    pub lost: u64,
    /// Sessions opened after the first.
    pub reconnects: u64,
    /// Why the last session or attempt ended, if it did.
    pub last_error: Option<String>,
    /// Recent samples, oldest first.
    pub history: VecDeque<Sample>,
    #[serde(skip)]
    sessions: u64,
}

/// What a monitor reports about its server.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorEvent {
    /// A session is open.
    Connected {
        /// The server's address.
        address: String,
        /// Negotiated protocol version.
        version: u16,
        /// SHA-256 of the server certificate.
        fingerprint: Option<String>,
        /// What the server said in `Welcome`.
        state: ServerState,
    },
    /// A ping was sent.
    Sent,
    /// A pong came back after `rtt_ms`.
    Pong {
        /// Round-trip time, milliseconds.
        rtt_ms: f64,
    },
    /// A ping got no answer in time.
    Lost,
    /// The server is draining.
    Draining,
    /// The session ended or could not be opened.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Every server the dashboard shows.
#[derive(Debug, Default)]
pub struct Board {
    rows: BTreeMap<String, Row>,
}

impl Board {
    /// A server appeared or its records changed.
    pub fn upsert(&mut self, candidate: &Candidate) {
        let advertised_draining = candidate
            .txt
            .as_ref()
            .is_some_and(|t| t.state == ServerState::Draining);
        let row = self
            .rows
            .entry(candidate.key.clone())
            .or_insert_with(|| Row {
                key: candidate.key.clone(),
                instance: candidate.instance.clone(),
                source: candidate.source.to_string(),
                domain: candidate.browsed.as_ref().map(|b| b.domain.clone()),
                learnt: candidate.browsed.as_ref().map(|b| b.learnt.clone()),
                address: candidate.addresses_text(", "),
                state: RowState::Connecting,
                version: None,
                fingerprint: candidate.txt.as_ref().and_then(|t| t.fingerprint.clone()),
                rtt_ms: None,
                sent: 0,
                lost: 0,
                reconnects: 0,
                last_error: None,
                history: VecDeque::new(),
                sessions: 0,
            });
        row.instance = candidate.instance.clone();
        if row.sessions == 0 {
            row.address = candidate.addresses_text(", ");
        }
        if advertised_draining {
            row.state = RowState::Draining;
        }
    }

    /// A server left discovery.
    pub fn remove(&mut self, key: &str) -> bool {
        self.rows.remove(key).is_some()
    }

    /// The row of the server with this discovery key.
    pub fn row(&self, key: &str) -> Option<&Row> {
        self.rows.get(key)
    }

    /// Applies a monitor's report; `now_ms` is the wall-clock time. Returns
    /// the reason a server is unreachable when it is new (the first failure,
    /// or another reason than the last), for the agent to log once per change.
    pub fn apply(&mut self, key: &str, event: MonitorEvent, now_ms: u64) -> Option<String> {
        let row = self.rows.get_mut(key)?;
        match event {
            MonitorEvent::Connected {
                address,
                version,
                fingerprint,
                state,
            } => {
                row.sessions += 1;
                row.reconnects = row.sessions - 1;
                row.address = address;
                row.version = Some(version);
                row.fingerprint = fingerprint.or(row.fingerprint.take());
                row.state = match state {
                    ServerState::Serving => RowState::Serving,
                    ServerState::Draining => RowState::Draining,
                };
                row.last_error = None;
            }
            MonitorEvent::Sent => row.sent += 1,
            MonitorEvent::Pong { rtt_ms } => {
                row.rtt_ms = Some(rtt_ms);
                if row.state == RowState::Unreachable || row.state == RowState::Connecting {
                    row.state = RowState::Serving;
                }
                push(
                    &mut row.history,
                    Sample {
                        at_ms: now_ms,
                        rtt_ms: Some(rtt_ms),
                    },
                );
            }
            MonitorEvent::Lost => {
                row.lost += 1;
                push(
                    &mut row.history,
                    Sample {
                        at_ms: now_ms,
                        rtt_ms: None,
                    },
                );
            }
            MonitorEvent::Draining => row.state = RowState::Draining,
            MonitorEvent::Failed { reason } => {
                if row.state != RowState::Draining {
                    row.state = RowState::Unreachable;
                }
                row.rtt_ms = None;
                let changed = row.last_error.as_deref() != Some(reason.as_str());
                row.last_error = Some(reason.clone());
                return changed.then_some(reason);
            }
        }
        None
    }

    /// The rows, in key order.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.values()
    }

    /// The JSON the page renders: `{"servers": [...]}`.
    pub fn snapshot_json(&self) -> String {
        #[derive(Serialize)]
        struct Snapshot<'a> {
            servers: Vec<&'a Row>,
        }
        serde_json::to_string(&Snapshot {
            servers: self.rows.values().collect(),
        })
        .expect("rows serialize")
    }
}

fn push(history: &mut VecDeque<Sample>, sample: Sample) {
    if history.len() == HISTORY {
        history.pop_front();
    }
    history.push_back(sample);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::ServerTxt;

    fn candidate(state: ServerState) -> Candidate {
        Candidate {
            instance: "alpha".into(),
            host: "alpha.local".into(),
            addresses: vec!["127.0.0.1:4433".parse().unwrap()],
            txt: Some(ServerTxt {
                fingerprint: Some("ab".repeat(32)),
                ..ServerTxt::for_test(state)
            }),
            ..Candidate::for_test("alpha._pingpong._udp.local.")
        }
    }

    fn connected() -> MonitorEvent {
        MonitorEvent::Connected {
            address: "127.0.0.1:4433".into(),
            version: 1,
            fingerprint: Some("cd".repeat(32)),
            state: ServerState::Serving,
        }
    }

    #[test]
    fn a_server_goes_from_discovered_to_serving_with_rtts() {
        let mut board = Board::default();
        let c = candidate(ServerState::Serving);
        board.upsert(&c);
        assert_eq!(board.rows().next().unwrap().state, RowState::Connecting);
        board.apply(&c.key, connected(), 0);
        board.apply(&c.key, MonitorEvent::Sent, 0);
        board.apply(&c.key, MonitorEvent::Pong { rtt_ms: 0.4 }, 1000);
        board.apply(&c.key, MonitorEvent::Sent, 1000);
        board.apply(&c.key, MonitorEvent::Lost, 3000);
        let row = board.rows().next().unwrap();
        assert_eq!(row.state, RowState::Serving);
        assert_eq!(row.version, Some(1));
        assert_eq!(row.fingerprint.as_deref(), Some("cd".repeat(32).as_str()));
        assert_eq!((row.sent, row.lost, row.reconnects), (2, 1, 0));
        assert_eq!(row.rtt_ms, Some(0.4));
        assert_eq!(row.history.len(), 2);
        assert_eq!(row.history[1].rtt_ms, None);
        let json: serde_json::Value = serde_json::from_str(&board.snapshot_json()).unwrap();
        assert_eq!(json["servers"][0]["instance"], "alpha");
        assert_eq!(json["servers"][0]["state"], "serving");
        assert_eq!(json["servers"][0]["history"][0]["rtt_ms"], 0.4);
    }

    #[test]
    fn reconnects_failures_and_draining_are_counted_and_shown() {
        let mut board = Board::default();
        let c = candidate(ServerState::Serving);
        board.upsert(&c);
        board.apply(&c.key, connected(), 0);
        board.apply(
            &c.key,
            MonitorEvent::Failed {
                reason: "gone".into(),
            },
            0,
        );
        let row = board.rows().next().unwrap();
        assert_eq!(row.state, RowState::Unreachable);
        assert_eq!(row.rtt_ms, None);
        // The same reason again is not news; another one is.
        let gone = || MonitorEvent::Failed {
            reason: "gone".into(),
        };
        assert_eq!(board.apply(&c.key, gone(), 0), None);
        assert_eq!(
            board.apply(
                &c.key,
                MonitorEvent::Failed {
                    reason: "refused".into()
                },
                0
            ),
            Some("refused".into())
        );
        board.apply(&c.key, connected(), 0);
        assert_eq!(board.rows().next().unwrap().reconnects, 1);
        // TXT state=draining, then the session ending, keep it draining.
        board.upsert(&candidate(ServerState::Draining));
        board.apply(
            &c.key,
            MonitorEvent::Failed {
                reason: "closed".into(),
            },
            0,
        );
        assert_eq!(board.rows().next().unwrap().state, RowState::Draining);
        assert!(board.remove(&c.key));
        assert_eq!(board.snapshot_json(), r#"{"servers":[]}"#);
    }

    #[test]
    fn history_is_bounded() {
        let mut board = Board::default();
        let c = candidate(ServerState::Serving);
        board.upsert(&c);
        for i in 0..(HISTORY as u64 + 50) {
            board.apply(&c.key, MonitorEvent::Pong { rtt_ms: 1.0 }, i);
        }
        let row = board.rows().next().unwrap();
        assert_eq!(row.history.len(), HISTORY);
        assert_eq!(row.history[0].at_ms, 50);
    }

    #[test]
    fn events_for_unknown_servers_are_ignored() {
        let mut board = Board::default();
        board.apply("nobody", MonitorEvent::Lost, 0);
        assert_eq!(board.rows().count(), 0);
    }
}
