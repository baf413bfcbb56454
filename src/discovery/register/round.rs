//! One registration round's decisions, pure: what to read or send next, given
//! what the zone answered — claim a free name, rewrite our own records when
//! they differ, read a name without TXT once more before renaming, rename
//! when another server holds the name, read again when the records changed
//! under us. No sockets, no clock: `registrar.rs` asks the zone and feeds the
//! answers in (the model is `server/session.rs` beside `server/handler.rs`).

use super::records::{Held, Owner, Registration};
use super::RegisterError;

/// Conflict names tried before giving up: `NAME (2)` to `NAME (99)`.
pub(super) const MAX_RENAMES: u32 = 99;

/// Rewrites lost to concurrent changes of the same records before giving up
/// for this round.
pub(super) const MAX_RACES: u32 = 5;

/// What is registered and who owns it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The instance name asked for.
    pub instance: String,
    /// The service type's labels: `_pingpong._udp` for a server.
    pub service: String,
    /// The ownership rule: which instances in the zone are this one's.
    pub owner: Owner,
    /// The certificate's DNS names and CN, to choose the SRV target (empty
    /// without a certificate).
    pub cert_names: Vec<String>,
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// Read the TXT and SRV records at the instance name in use.
    ReadTxt,
    /// Our TXT is as wanted: read every record of the registration and say
    /// whether the zone holds exactly it.
    Compare,
    /// Claim the name: our records, on condition that the name has none.
    Claim,
    /// Rewrite our records, on condition that the TXT still reads `strings`;
    /// `healing` when they were registered before (someone changed them).
    Rewrite {
        /// The TXT strings read.
        strings: Vec<Vec<u8>>,
        /// Whether this repairs a registration that was complete.
        healing: bool,
    },
    /// The zone holds exactly our records.
    Registered,
    /// The round failed.
    Failed(RegisterError),
}

/// Why an update did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Rejection {
    /// The name belongs to someone else (YXDOMAIN).
    Conflict,
    /// What a prerequisite named changed since it was read (NXRRSET).
    Changed,
    /// Anything else.
    Error(RegisterError),
}

/// What the zone answered to the last step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// What the name holds, `None` when it has no TXT.
    Txt(Option<Held>),
    /// Whether the zone holds exactly our records.
    Compared(bool),
    /// How a claim or rewrite went.
    Sent(Result<(), Rejection>),
}

/// The state of one round.
#[derive(Debug, Default)]
pub(super) struct Round {
    /// The suffix of the name in use (1: the name asked for).
    suffix: u32,
    /// Whether a name without TXT was read again after a conflict.
    reread: bool,
    /// Rewrites lost to concurrent changes.
    races: u32,
    /// The TXT last read (`None`: the name had none).
    read: Option<Option<Vec<Vec<u8>>>>,
    /// A rename to tell about: (from, to).
    renamed: Option<(String, String)>,
}

impl Round {
    /// A round starting with the name `registration` holds; its first step
    /// is [`Step::ReadTxt`].
    pub(super) fn new() -> Self {
        Self {
            suffix: 1,
            ..Self::default()
        }
    }

    /// The rename the last step made, if any (for the log).
    pub(super) fn take_renamed(&mut self) -> Option<(String, String)> {
        self.renamed.take()
    }

    /// The next step after `answer`. `registration` is what is wanted (it is
    /// renamed when the name is taken), `identity` who we are, and
    /// `registered` whether the records were complete at the last round.
    pub(super) fn next(
        &mut self,
        answer: Answer,
        registration: &mut Registration,
        identity: &Identity,
        registered: bool,
        zone: &str,
    ) -> Step {
        match answer {
            Answer::Txt(None) => {
                self.read = Some(None);
                Step::Claim
            }
            Answer::Txt(Some(held)) if identity.owner.owns(&held, registration) => {
                let strings = held.txt;
                let current = strings == registration.txt_strings();
                self.read = Some(Some(strings.clone()));
                if current {
                    Step::Compare
                } else {
                    Step::Rewrite {
                        strings,
                        healing: registered,
                    }
                }
            }
            Answer::Txt(Some(held)) => {
                self.read = Some(Some(held.txt));
                self.rejected(Rejection::Conflict, registration, identity, zone)
            }
            Answer::Compared(true) | Answer::Sent(Ok(())) => Step::Registered,
            Answer::Compared(false) => Step::Rewrite {
                strings: self.read.clone().flatten().unwrap_or_default(),
                healing: registered,
            },
            Answer::Sent(Err(rejection)) => self.rejected(rejection, registration, identity, zone),
        }
    }

    fn rejected(
        &mut self,
        rejection: Rejection,
        registration: &mut Registration,
        identity: &Identity,
        zone: &str,
    ) -> Step {
        let had_no_txt = self.read == Some(None);
        match rejection {
            // The name exists without a TXT: perhaps a server between two
            // updates; read it once more before renaming.
            Rejection::Conflict if had_no_txt && !self.reread => {
                self.reread = true;
                Step::ReadTxt
            }
            Rejection::Conflict => {
                self.suffix += 1;
                self.reread = false;
                if self.suffix > MAX_RENAMES {
                    return Step::Failed(RegisterError::NamesExhausted {
                        instance: identity.instance.clone(),
                        last: MAX_RENAMES,
                        zone: zone.to_string(),
                    });
                }
                let next = registration.renamed(&identity.instance, self.suffix);
                self.renamed = Some((registration.instance.clone(), next.instance.clone()));
                *registration = next;
                Step::ReadTxt
            }
            Rejection::Changed if self.races < MAX_RACES => {
                self.races += 1;
                Step::ReadTxt
            }
            Rejection::Changed => Step::Failed(RegisterError::Contended {
                instance: registration.instance.clone(),
                zone: zone.to_string(),
            }),
            Rejection::Error(error) => Step::Failed(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Name;

    fn registration() -> Registration {
        Registration {
            zone: Name::from_ascii("lab.test.").unwrap(),
            service: crate::discovery::register::records::pingpong_service(),
            instance: "web".into(),
            host: Name::from_ascii("web1.lab.test.").unwrap(),
            port: 4433,
            priority: 0,
            weight: 100,
            txt: vec![("v".into(), "1".into()), ("id".into(), "ab12".into())],
            addresses: vec!["192.0.2.10".parse().unwrap()],
            ttl: 10,
        }
    }

    fn identity() -> Identity {
        Identity {
            instance: "web".into(),
            service: "_pingpong._udp".into(),
            owner: Owner::Server {
                server_id: "ab12".into(),
                fingerprint: "ff00".into(),
            },
            cert_names: Vec::new(),
        }
    }

    /// An instance with these TXT strings, its SRV pointing at our host.
    fn txt(strings: &[&str]) -> Option<Held> {
        let r = registration();
        Some(Held {
            txt: strings.iter().map(|s| s.as_bytes().to_vec()).collect(),
            srv: Some((r.host, r.port)),
        })
    }

    /// Feeds `answers` to a new round; the steps it took.
    fn steps(answers: Vec<Answer>, registered: bool) -> (Vec<Step>, Registration) {
        let mut round = Round::new();
        let mut wanted = registration();
        let steps = answers
            .into_iter()
            .map(|answer| round.next(answer, &mut wanted, &identity(), registered, "lab.test"))
            .collect();
        (steps, wanted)
    }

    #[test]
    fn a_free_name_is_claimed() {
        let (taken, _) = steps(vec![Answer::Txt(None), Answer::Sent(Ok(()))], false);
        assert_eq!(taken, [Step::Claim, Step::Registered]);
    }

    #[test]
    fn our_records_as_wanted_are_compared_and_kept() {
        let (taken, _) = steps(
            vec![
                Answer::Txt(txt(&["v=1", "id=ab12"])),
                Answer::Compared(true),
            ],
            true,
        );
        assert_eq!(taken, [Step::Compare, Step::Registered]);
    }

    #[test]
    fn our_records_that_differ_are_rewritten_as_a_heal_when_they_were_complete() {
        let old = txt(&["v=1", "id=ab12", "state=draining"]);
        let (taken, _) = steps(vec![Answer::Txt(old.clone())], true);
        assert_eq!(
            taken,
            [Step::Rewrite {
                strings: old.clone().unwrap().txt,
                healing: true
            }]
        );
        // The TXT is right but another record is missing or stale.
        let right = txt(&["v=1", "id=ab12"]);
        let (taken, _) = steps(
            vec![Answer::Txt(right.clone()), Answer::Compared(false)],
            false,
        );
        assert_eq!(
            taken,
            [
                Step::Compare,
                Step::Rewrite {
                    strings: right.unwrap().txt,
                    healing: false
                }
            ]
        );
    }

    /// Feeds `answer` to `round` for the standard registration and identity.
    fn feed(round: &mut Round, wanted: &mut Registration, answer: Answer) -> Step {
        round.next(answer, wanted, &identity(), false, "lab.test")
    }

    #[test]
    fn a_name_another_server_holds_is_renamed() {
        let mut round = Round::new();
        let mut wanted = registration();
        let step = feed(
            &mut round,
            &mut wanted,
            Answer::Txt(txt(&["v=1", "id=99ff"])),
        );
        assert_eq!(step, Step::ReadTxt);
        assert_eq!(wanted.instance, "web (2)");
        assert_eq!(
            round.take_renamed(),
            Some(("web".to_string(), "web (2)".to_string()))
        );
        // A claim refused under the new name too: a name without TXT is read
        // once more first, then the next suffix.
        let refused = |round: &mut Round, wanted: &mut Registration| {
            feed(round, wanted, Answer::Txt(None));
            feed(round, wanted, Answer::Sent(Err(Rejection::Conflict)))
        };
        assert_eq!(refused(&mut round, &mut wanted), Step::ReadTxt);
        assert_eq!(wanted.instance, "web (2)");
        assert_eq!(refused(&mut round, &mut wanted), Step::ReadTxt);
        assert_eq!(wanted.instance, "web (3)");
    }

    #[test]
    fn a_published_service_is_known_by_its_host_and_port() {
        let publisher = Identity {
            owner: Owner::Endpoint,
            service: "_http._tcp".into(),
            ..identity()
        };
        let held = |host: &str, port| {
            Answer::Txt(Some(Held {
                txt: vec![b"path=/old".to_vec()],
                srv: Some((Name::from_ascii(host).unwrap(), port)),
            }))
        };
        // Our host and port (a restart after a crash): rewritten, not renamed.
        let mut wanted = registration();
        let step = Round::new().next(
            held("web1.lab.test.", 4433),
            &mut wanted,
            &publisher,
            false,
            "lab.test",
        );
        assert!(matches!(step, Step::Rewrite { .. }), "{step:?}");
        assert_eq!(wanted.instance, "web");
        // Another host, or another port of ours: the next name.
        for other in [held("web2.lab.test.", 4433), held("web1.lab.test.", 80)] {
            let mut wanted = registration();
            let step = Round::new().next(other, &mut wanted, &publisher, false, "lab.test");
            assert_eq!(step, Step::ReadTxt);
            assert_eq!(wanted.instance, "web (2)");
        }
    }

    #[test]
    fn renames_end_with_an_error_after_the_last_suffix() {
        let mut round = Round::new();
        let mut wanted = registration();
        let other = || Answer::Txt(txt(&["id=99ff"]));
        let mut last = Step::ReadTxt;
        for _ in 1..MAX_RENAMES {
            last = feed(&mut round, &mut wanted, other());
        }
        assert_eq!(last, Step::ReadTxt);
        assert_eq!(wanted.instance, format!("web ({MAX_RENAMES})"));
        let step = round.next(other(), &mut wanted, &identity(), false, "lab.test");
        assert!(
            matches!(
                step,
                Step::Failed(RegisterError::NamesExhausted {
                    last: MAX_RENAMES,
                    ..
                })
            ),
            "{step:?}"
        );
    }

    #[test]
    fn records_changed_under_us_are_read_again_a_bounded_number_of_times() {
        let mut answers = Vec::new();
        for _ in 0..=MAX_RACES {
            answers.push(Answer::Txt(txt(&["id=ab12", "old=1"])));
            answers.push(Answer::Sent(Err(Rejection::Changed)));
        }
        let (taken, _) = steps(answers, false);
        let rereads = taken.iter().filter(|s| **s == Step::ReadTxt).count();
        assert_eq!(rereads as u32, MAX_RACES);
        assert!(
            matches!(
                taken.last(),
                Some(Step::Failed(RegisterError::Contended { .. }))
            ),
            "{taken:?}"
        );
    }

    #[test]
    fn other_failures_end_the_round_as_they_are() {
        let error = RegisterError::BadName {
            zone: "lab.test".into(),
            reason: "x".into(),
        };
        let (taken, _) = steps(
            vec![
                Answer::Txt(None),
                Answer::Sent(Err(Rejection::Error(error.clone()))),
            ],
            false,
        );
        assert_eq!(taken, [Step::Claim, Step::Failed(error)]);
    }
}
