//! Answering what a session's client already sent, in one batch: each
//! message decoded in place and fed to the session's state machine, a ping's
//! payload going from the receive buffer to its pong (and to the outbox)
//! without a copy in between.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::io::AsyncRead;

use super::context::SessionContext;
use super::metrics::Metrics;
use super::outbox::Outbox;
use super::session::{Action, Session};
use crate::framed::{FramedError, FramedReader};
use crate::proto::{encode_frame_into, encode_pong_into, ClientMessageView, ServerMessage};

/// Replies are gathered up to this many bytes before one write: pipelined pings
/// cost one stream write per batch, not one per pong.
const WRITE_BATCH: usize = 64 * 1024;

/// How a batch of buffered messages ended.
pub(super) enum Batch {
    /// Every buffered message is answered in `out` (or `out` is full).
    Answered,
    /// The client said Hello: its outbox is known from here on.
    Welcomed,
    /// The session ends with this action, after what is in `out`.
    Ends(Action),
}

/// Answers the messages already buffered in `reader` into `out`, decoding each
/// in place: a ping's payload goes from the receive buffer to the pong (and to
/// the outbox) without a copy in between. The client's outbox is locked once
/// for the batch, not once per ping.
pub(super) fn answer_buffered<R: AsyncRead + Unpin>(
    reader: &mut FramedReader<R>,
    session: &mut Session,
    outbox: &mut Option<Arc<Mutex<Outbox>>>,
    ctx: &SessionContext<'_>,
    now: Instant,
    out: &mut Vec<u8>,
) -> Result<Batch, FramedError> {
    let mut counted = Counted {
        metrics: ctx.metrics,
        pings: 0,
    };
    let mut kept: Option<MutexGuard<'_, Outbox>> = None;
    while out.len() < WRITE_BATCH {
        let message = match reader.try_next_client_view() {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(FramedError::Frame(error)) => {
                return Ok(Batch::Ends(session.on_frame_error(&error)))
            }
            Err(error) => return Err(error),
        };
        match session.on_message(ctx.info, &message) {
            Action::Pong { seq } => {
                let ClientMessageView::Ping { payload, .. } = message else {
                    unreachable!("the session answers pings only with pongs")
                };
                let Some(shared) = outbox.as_ref() else {
                    encode_pong_into(seq, payload, out)?;
                    continue;
                };
                let kept = kept.get_or_insert_with(|| {
                    let mut kept = shared.lock().expect("outbox lock");
                    kept.expire(now, &ctx.outbox_limits);
                    kept
                });
                // A ping answered before is answered from the outbox, with the
                // payload it had then; a new pong is kept there.
                match kept.keep(seq, payload, now, &ctx.outbox_limits) {
                    Some(earlier) => encode_pong_into(seq, earlier, out)?,
                    None => {
                        counted.pings += 1;
                        encode_pong_into(seq, payload, out)?;
                    }
                }
            }
            Action::Reply(reply) => {
                encode_frame_into(&reply, out)?;
                if let ServerMessage::Welcome { .. } = reply {
                    if let Some(id) = session.client_id() {
                        let shared = ctx.outboxes.lock().expect("outboxes lock").for_client(id);
                        // A returning client gets the pongs it missed.
                        let mut missed = shared.lock().expect("outbox lock");
                        missed.expire(now, &ctx.outbox_limits);
                        for (seq, payload) in missed.after(session.resume_after()) {
                            encode_pong_into(seq, payload, out)?;
                        }
                        drop(missed);
                        drop(kept);
                        *outbox = Some(shared);
                        return Ok(Batch::Welcomed);
                    }
                }
            }
            ends => return Ok(Batch::Ends(ends)),
        }
    }
    Ok(Batch::Answered)
}

/// Pings answered in a batch, added to the server's counter once, however the
/// batch ends: one atomic add a batch, not one a ping.
struct Counted<'a> {
    metrics: Option<&'a Metrics>,
    pings: u64,
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if let (Some(metrics), 1..) = (self.metrics, self.pings) {
            metrics.pings_total.inc_by(self.pings);
        }
    }
}
