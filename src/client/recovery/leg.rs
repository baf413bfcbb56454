//! A session of a recovering run and the candidate it was opened to.

use wtransport::{RecvStream, SendStream};

use crate::client::lanes::Lane;
use crate::client::suspicion::SessionClock;
use crate::client::ClientSession;
use crate::discovery::Candidate;
use crate::framed::FramedReader;

/// A session and the candidate it was opened to.
pub struct Leg {
    /// Where it goes.
    pub candidate: Candidate,
    /// The session.
    pub session: ClientSession,
}

impl Lane for Leg {
    type Reader = RecvStream;
    type Writer = SendStream;
    fn streams(&mut self) -> (&mut FramedReader<RecvStream>, &mut SendStream) {
        self.session.streams()
    }
    fn clock(&mut self) -> &mut SessionClock {
        self.session.clock()
    }
}
