//! The sessions of a run, as the ping loop sees them: the primary, and a
//! standby beside it while the primary is suspect (make-before-break). Applies
//! the run's [`Liveness`] through each session's [`SessionClock`] and says what
//! the caller must decide as a [`Turn`]; [`pinger`](super::pinger) drives it
//! and the run. It never touches the run itself: the flow is one way, from the
//! ping loop to the run and to the lanes.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::run::Liveness;
use super::suspicion::{Health, SessionClock};
use super::ClientError;
use crate::framed::{FramedError, FramedReader};

/// A session as the ping loop sees it: a control stream and a clock.
pub trait Lane: Send {
    /// The stream pongs arrive on.
    type Reader: AsyncRead + Unpin + Send;
    /// The stream pings leave on.
    type Writer: AsyncWrite + Unpin + Send;
    /// Both halves of the control stream.
    fn streams(&mut self) -> (&mut FramedReader<Self::Reader>, &mut Self::Writer);
    /// What this session was sent and answered.
    fn clock(&mut self) -> &mut SessionClock;
}

impl<L: Lane> Lane for &mut L {
    type Reader = L::Reader;
    type Writer = L::Writer;
    fn streams(&mut self) -> (&mut FramedReader<Self::Reader>, &mut Self::Writer) {
        (**self).streams()
    }
    fn clock(&mut self) -> &mut SessionClock {
        (**self).clock()
    }
}

/// The sessions of a run: the primary, which every ping goes to, and perhaps a
/// standby, idle or, while the primary is suspect, hedging (sent every
/// unanswered and every new ping too; the first pong wins).
pub struct Lanes<L> {
    /// The session the run belongs to.
    pub primary: L,
    /// A second session, to another server if there is one.
    pub standby: Option<L>,
    hedging: bool,
    asked: bool,
}

impl<L: Lane> Lanes<L> {
    /// One session, no standby.
    pub fn new(primary: L) -> Self {
        Self {
            primary,
            standby: None,
            hedging: false,
            asked: false,
        }
    }

    /// Whether the standby is being sent the run's pings.
    pub fn hedging(&self) -> bool {
        self.hedging
    }

    /// Makes the standby the primary (the old primary failed or stalled) and
    /// returns the old one. Unless it was hedging, the new primary has not been
    /// sent the unanswered pings: see [`pinger::switch`](super::pinger::switch).
    pub fn switch(&mut self) -> Option<L> {
        let standby = self.standby.take()?;
        let old = std::mem::replace(&mut self.primary, standby);
        self.end_episode();
        Some(old)
    }

    /// Takes the standby out (to close it).
    pub fn take_standby(&mut self) -> Option<L> {
        self.end_episode();
        self.standby.take()
    }

    fn end_episode(&mut self) {
        self.hedging = false;
        self.asked = false;
    }

    /// Applies `liveness` to the sessions (`stopping`: the run is winding
    /// down, nothing is judged): `Err` when the primary is lost, a verdict
    /// for the ping loop, or nothing to do.
    pub(crate) fn judge(
        &mut self,
        liveness: Liveness,
        stopping: bool,
        now: Instant,
        connecting: bool,
    ) -> Result<Option<Verdict<L>>, ClientError> {
        if stopping {
            return Ok(None);
        }
        match liveness {
            Liveness::Ignore => Ok(None),
            Liveness::After(limit) => match self.primary.clock().waiting_since() {
                Some(at) if now.saturating_duration_since(at) > limit => {
                    Err(stopped_answering(limit))
                }
                _ => Ok(None),
            },
            Liveness::Adaptive => {
                if self.hedging {
                    if let Some(standby) = &mut self.standby {
                        if standby.clock().health(now) == Health::Stalled {
                            let after = standby.clock().estimate().stall_after();
                            let standby = self.take_standby();
                            return Ok(standby.map(|s| {
                                Verdict::Turn(Turn::StandbyLost(s, stopped_answering(after)))
                            }));
                        }
                    }
                }
                match self.primary.clock().health(now) {
                    Health::Stalled => Err(stopped_answering(
                        self.primary.clock().estimate().stall_after(),
                    )),
                    Health::Suspect => match &self.standby {
                        Some(_) if !self.hedging => Ok(Some(Verdict::Hedge)),
                        None if !self.asked && !connecting => {
                            self.asked = true;
                            Ok(Some(Verdict::Turn(Turn::WantStandby)))
                        }
                        _ => Ok(None),
                    },
                    Health::Fine if self.hedging || (self.asked && connecting) => {
                        self.end_episode();
                        Ok(Some(Verdict::Turn(Turn::Recovered)))
                    }
                    Health::Fine => {
                        self.asked = false;
                        Ok(None)
                    }
                }
            }
        }
    }

    /// Starts hedging: the standby is sent `out`, the unanswered pings
    /// `seqs`, and every new ping from now on.
    pub(crate) async fn hedge(&mut self, seqs: &[u64], out: &[u8], now: Instant) -> Turn<L> {
        // `judge` says Hedge only with a standby up; without one, the suspect
        // primary wants one, as `judge` would have said.
        let Some(standby) = &mut self.standby else {
            return Turn::WantStandby;
        };
        for &seq in seqs {
            standby.clock().sent(seq, now);
        }
        self.hedging = true;
        if let Err(error) = standby.streams().1.write_all(out).await {
            if let Some(standby) = self.take_standby() {
                return Turn::StandbyLost(standby, FramedError::from(error).into());
            }
        }
        Turn::Hedging
    }

    /// Writes new pings `first..=last` (encoded in `out`) to the primary, and to
    /// the standby while hedging.
    pub(crate) async fn send(
        &mut self,
        out: &[u8],
        first: u64,
        last: u64,
        now: Instant,
    ) -> Result<Option<Turn<L>>, ClientError> {
        for seq in first..=last {
            self.primary.clock().sent(seq, now);
        }
        self.primary
            .streams()
            .1
            .write_all(out)
            .await
            .map_err(FramedError::from)?;
        if self.hedging {
            if let Some(standby) = &mut self.standby {
                for seq in first..=last {
                    standby.clock().sent(seq, now);
                }
                if let Err(error) = standby.streams().1.write_all(out).await {
                    let standby = self.take_standby();
                    return Ok(
                        standby.map(|s| Turn::StandbyLost(s, FramedError::from(error).into()))
                    );
                }
            }
        }
        Ok(None)
    }
}

/// What [`Lanes::judge`] found.
pub(crate) enum Verdict<L> {
    /// Something for the caller of the ping loop.
    Turn(Turn<L>),
    /// The primary turned suspect and a standby is up: hedge (the ping loop
    /// asks the run for the unanswered pings and calls [`Lanes::hedge`]).
    Hedge,
}

fn stopped_answering(after: Duration) -> ClientError {
    ClientError::SessionLost(format!(
        "no pong for {} ms: the server stopped answering",
        after.as_millis()
    ))
}

/// Why the loop returned: the caller acts, then calls it again (unless the run
/// is finished).
pub enum Turn<L> {
    /// Every ping was sent and answered or given up on (or the run was stopped).
    Finished,
    /// The primary is suspect and there is no standby: open one and pass it in
    /// as `connecting`.
    WantStandby,
    /// The standby being opened is up (`None`: it could not be had).
    StandbyOpened(Option<L>),
    /// The primary turned suspect: the standby was sent its unanswered pings and
    /// gets every new one too.
    Hedging,
    /// The primary answers again: the standby no longer gets pings (close it, or
    /// keep it idle); an attempt still opening one is not needed.
    Recovered,
    /// The standby failed or stalled; it was taken out of the lanes.
    StandbyLost(L, ClientError),
    /// The session to move the run to is up (`None`: it could not be had);
    /// the caller makes it the primary and closes the old one.
    MoveReady(Option<L>),
}

/// A session being opened.
pub type Connecting<'c, L> = Pin<&'c mut (dyn Future<Output = Option<L>> + Send + 'c)>;

/// What is being opened beside the primary while the loop runs.
pub enum Opening<'c, L> {
    /// A standby (asked for with [`Turn::WantStandby`], or a warm one); its
    /// result comes back as [`Turn::StandbyOpened`].
    Standby(Connecting<'c, L>),
    /// A session to move to (a server joined, see
    /// [`rebalance`](super::rebalance)); its result comes back as
    /// [`Turn::MoveReady`]. A suspect primary still asks for a standby
    /// meanwhile.
    Move(Connecting<'c, L>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::pinger::run_lanes;
    use crate::client::PingRun;
    use crate::client::{PingEvent, PingOptions};
    use crate::proto::{encode_frame, ClientMessage, ServerMessage};
    use tokio::io::{DuplexStream, ReadHalf, WriteHalf};
    use tokio_util::sync::CancellationToken;

    /// A session over a pipe to a scripted server.
    struct Pipe {
        reader: FramedReader<ReadHalf<DuplexStream>>,
        writer: WriteHalf<DuplexStream>,
        clock: SessionClock,
        name: &'static str,
    }

    impl Lane for Pipe {
        type Reader = ReadHalf<DuplexStream>;
        type Writer = WriteHalf<DuplexStream>;
        fn streams(&mut self) -> (&mut FramedReader<Self::Reader>, &mut Self::Writer) {
            (&mut self.reader, &mut self.writer)
        }
        fn clock(&mut self) -> &mut SessionClock {
            &mut self.clock
        }
    }

    /// A server that answers each ping after `delay(seq)`, or never (`None`:
    /// it hangs from that ping on, keeping its socket).
    fn pipe(name: &'static str, delay: fn(u64) -> Option<Duration>) -> Pipe {
        let (client, server) = tokio::io::duplex(1 << 20);
        let (sr, mut sw) = tokio::io::split(server);
        tokio::spawn(async move {
            let mut reader = FramedReader::new(sr);
            while let Ok(Some(ClientMessage::Ping { seq, payload })) =
                reader.next::<ClientMessage>().await
            {
                let Some(wait) = delay(seq) else {
                    std::future::pending::<()>().await;
                    return;
                };
                tokio::time::sleep(wait).await;
                let pong = encode_frame(&ServerMessage::Pong { seq, payload }).unwrap();
                if sw.write_all(&pong).await.is_err() {
                    return;
                }
            }
        });
        let (cr, cw) = tokio::io::split(client);
        Pipe {
            reader: FramedReader::new(cr),
            writer: cw,
            clock: SessionClock::new(Some(Duration::from_millis(1))),
            name,
        }
    }

    struct Outcome {
        pongs: Vec<u64>,
        turns: Vec<&'static str>,
        primary: &'static str,
        hedged: u64,
        duplicates: u64,
        lost: u64,
    }

    /// Pings 100 times every 10 ms over `primary`; whenever a standby is
    /// wanted, `standby` is opened; a stalled primary is replaced by it, as
    /// [`failover`](crate::client::failover) does.
    async fn run_with(primary: Pipe, standby: fn() -> Pipe) -> Outcome {
        let options = PingOptions {
            count: Some(100),
            interval: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
            liveness: Liveness::Adaptive,
            ..PingOptions::default()
        };
        let mut run = PingRun::new(&options);
        let mut lanes = Lanes::new(primary);
        let stop = CancellationToken::new();
        let mut pongs = Vec::new();
        let mut turns = Vec::new();
        let mut want = false;
        loop {
            let mut emit = |e: &PingEvent| {
                if let PingEvent::Pong { seq, .. } = e {
                    pongs.push(*seq)
                }
            };
            let opening = async move { want.then(standby) };
            tokio::pin!(opening);
            let connecting: Option<Opening<'_, Pipe>> = want.then(|| {
                let pinned: Connecting<'_, Pipe> = opening.as_mut();
                Opening::Standby(pinned)
            });
            match run_lanes(&mut lanes, &mut run, &stop, connecting, &mut emit).await {
                Ok(Turn::Finished) => break,
                Ok(Turn::WantStandby) => {
                    turns.push("want");
                    want = true;
                }
                Ok(Turn::StandbyOpened(lane)) => {
                    turns.push("opened");
                    want = false;
                    lanes.standby = lane;
                }
                Ok(Turn::Hedging) => turns.push("hedging"),
                Ok(Turn::Recovered) => {
                    turns.push("recovered");
                    want = false;
                    lanes.take_standby();
                }
                Ok(Turn::StandbyLost(..)) => turns.push("standby lost"),
                Ok(Turn::MoveReady(_)) => unreachable!("no move was opened"),
                Err(_) => {
                    turns.push("switch");
                    let mut out = Vec::new();
                    assert!(
                        crate::client::pinger::switch(&mut lanes, &mut run, &mut out)
                            .unwrap()
                            .is_some()
                    );
                    lanes.primary.writer.write_all(&out).await.unwrap();
                }
            }
        }
        let summary = run.summary();
        Outcome {
            pongs,
            turns,
            primary: lanes.primary.name,
            hedged: summary.hedged,
            duplicates: summary.duplicates,
            lost: summary.lost,
        }
    }

    fn answers_at_once(_: u64) -> Option<Duration> {
        Some(Duration::ZERO)
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_primary_is_hedged_then_replaced_and_every_seq_answered_once() {
        let hangs_at_20 = |seq| (seq < 20).then_some(Duration::ZERO);
        let out = run_with(pipe("first", hangs_at_20), || {
            pipe("second", answers_at_once)
        })
        .await;
        let mut seqs = out.pongs.clone();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=100).collect::<Vec<_>>(), "{:?}", out.pongs);
        assert_eq!(out.turns, ["want", "opened", "hedging", "switch"]);
        assert_eq!(out.primary, "second");
        assert_eq!((out.duplicates, out.lost), (0, 0));
        assert!(out.hedged > 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_primary_that_answers_again_keeps_the_run_and_nothing_counts_twice() {
        // Ping 20 waits 250 ms (longer than the suspicion deadline, shorter
        // than the stall); every later one queues behind it.
        let slow_at_20 = |seq| Some(Duration::from_millis(if seq == 20 { 250 } else { 0 }));
        let out = run_with(pipe("first", slow_at_20), || {
            pipe("second", answers_at_once)
        })
        .await;
        let mut seqs = out.pongs.clone();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
        assert_eq!(out.turns, ["want", "opened", "hedging", "recovered"]);
        assert_eq!(out.primary, "first");
        // The first session's late answers to hedged pings are not duplicates.
        assert_eq!((out.duplicates, out.lost), (0, 0));
        assert!(out.hedged > 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_healthy_primary_never_wants_a_standby() {
        let out = run_with(pipe("first", answers_at_once), || unreachable!()).await;
        assert_eq!(out.pongs, (1..=100).collect::<Vec<_>>());
        assert!(out.turns.is_empty(), "{:?}", out.turns);
        assert_eq!(out.hedged, 0);
    }
}
