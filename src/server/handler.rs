//! Drives one session's control stream: reads frames, feeds the [`Session`]
//! state machine, writes its replies. Generic over the byte streams so that tests
//! run it over `tokio::io::duplex`.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::answer::{answer_buffered, Batch};
pub use super::context::{SessionContext, SessionTiming};
use super::outbox::Outbox;
use super::session::{Action, Session};
use crate::framed::{FramedError, FramedReader};
use crate::proto::{encode_frame_into, ServerMessage};

/// A frame that has begun must be complete within this time: a slow peer on a
/// bad link sends a 64 KiB frame in well under a second, so ten seconds only
/// stops peers that hold a session open with a trickle (slowloris).
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The client said Goodbye or closed its stream between frames.
    ClientLeft,
    /// The server sent an `Error` and closed (bad frame, bad version, ...).
    Refused {
        /// The error code sent.
        code: u16,
        /// The message sent.
        message: String,
    },
    /// The server is shutting down.
    Shutdown,
}

/// Runs the control stream of one session until it ends.
///
/// `Err` means the stream itself failed (reset, connection lost); a misbehaving
/// client gets an `Error` frame and ends as [`SessionEnd::Refused`].
pub async fn run_control_stream<R, W>(
    reader: R,
    writer: &mut W,
    ctx: &SessionContext<'_>,
    shutdown: &CancellationToken,
) -> Result<(SessionEnd, Session), FramedError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let timing = &ctx.timing;
    let mut reader = FramedReader::new(reader).with_frame_timeout(FRAME_TIMEOUT);
    let mut session = Session::new();
    let mut outbox: Option<Arc<Mutex<Outbox>>> = None;
    let mut out = Vec::new();
    // Created once, not per message: each creation registers with the token or
    // the timer wheel.
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    let hello_timer = tokio::time::sleep(timing.hello_timeout);
    tokio::pin!(hello_timer);
    // Once the server drains: the session was told to move, and has this long.
    let drain_timer = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(drain_timer);
    let mut draining = false;
    loop {
        let awaiting_hello = session.version().is_none();
        let next = tokio::select! {
            biased;
            _ = &mut cancelled, if !draining => {
                if awaiting_hello {
                    return Ok((SessionEnd::Shutdown, session));
                }
                // Tell the client to move; keep answering until it has gone.
                let drain = ServerMessage::Drain {
                    reason: "server shutting down".into(),
                    reconnect_after_ms: 0,
                };
                encode_frame_into(&drain, &mut out)?;
                writer.write_all(&out).await?;
                out.clear();
                draining = true;
                drain_timer.as_mut().reset(tokio::time::Instant::now() + timing.drain_timeout);
                continue;
            }
            _ = &mut drain_timer, if draining => return Ok((SessionEnd::Shutdown, session)),
            _ = &mut hello_timer, if awaiting_hello => None,
            read = reader.ready() => Some(read),
        };
        let ending = match next {
            None => session.on_hello_timeout(),
            Some(Ok(true)) => {
                // One clock reading per batch of messages: the outbox's ages
                // need no more.
                let now = Instant::now();
                let batch = loop {
                    match answer_buffered(
                        &mut reader,
                        &mut session,
                        &mut outbox,
                        ctx,
                        now,
                        &mut out,
                    )? {
                        Batch::Welcomed => continue,
                        batch => break batch,
                    }
                };
                match batch {
                    Batch::Ends(action) => action,
                    _ => {
                        writer.write_all(&out).await?;
                        out.clear();
                        continue;
                    }
                }
            }
            Some(Ok(false)) => return Ok((SessionEnd::ClientLeft, session)),
            Some(Err(FramedError::Frame(error))) => session.on_frame_error(&error),
            Some(Err(error @ FramedError::Stalled { .. })) => session.on_stall(&error.to_string()),
            Some(Err(error)) => return Err(error),
        };
        // What is already answered goes out before the session ends.
        let end = match ending {
            Action::ReplyAndClose(reply) => {
                encode_frame_into(&reply, &mut out)?;
                match reply {
                    ServerMessage::Error { code, message } => SessionEnd::Refused { code, message },
                    _ => SessionEnd::ClientLeft,
                }
            }
            _ => {
                if let Some(id) = session.client_id() {
                    ctx.outboxes.lock().expect("outboxes lock").forget(&id);
                }
                SessionEnd::ClientLeft
            }
        };
        writer.write_all(&out).await?;
        writer.shutdown().await?;
        return Ok((end, session));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{encode_frame, ClientMessage, ErrorCode};
    use crate::server::outbox::{OutboxLimits, Outboxes};
    use crate::server::session::ServerInfo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn info() -> ServerInfo {
        ServerInfo {
            server_id: [3; 16],
            instance: "t".into(),
        }
    }

    fn ctx(info: &ServerInfo, timing: SessionTiming) -> SessionContext<'_> {
        // Leaked: a few bytes per test, and the context outlives spawned tasks.
        let outboxes: &'static Mutex<Outboxes> =
            Box::leak(Box::new(Mutex::new(Outboxes::default())));
        SessionContext {
            info,
            timing,
            metrics: None,
            outboxes,
            outbox_limits: OutboxLimits::default(),
        }
    }

    fn timing(hello_timeout: Duration) -> SessionTiming {
        SessionTiming {
            hello_timeout,
            drain_timeout: Duration::from_millis(300),
        }
    }

    /// Runs the handler against raw client bytes; returns how it ended and what it wrote.
    async fn exchange(client_bytes: Vec<u8>, close: bool) -> (SessionEnd, Vec<ServerMessage>) {
        let (client, server) = tokio::io::duplex(1 << 20);
        let (server_r, mut server_w) = tokio::io::split(server);
        let (mut client_r, mut client_w) = tokio::io::split(client);
        client_w.write_all(&client_bytes).await.unwrap();
        if close {
            client_w.shutdown().await.unwrap();
        }
        let shutdown = CancellationToken::new();
        let (end, _) = run_control_stream(
            server_r,
            &mut server_w,
            &ctx(&info(), timing(Duration::from_millis(200))),
            &shutdown,
        )
        .await
        .unwrap();
        drop(server_w);
        let mut out = Vec::new();
        client_r.read_to_end(&mut out).await.unwrap();
        let mut decoder = crate::proto::FrameDecoder::new();
        decoder.push(&out);
        let mut replies = Vec::new();
        while let Some(m) = decoder.decode::<ServerMessage>().unwrap() {
            replies.push(m);
        }
        (end, replies)
    }

    fn frames(messages: &[ClientMessage]) -> Vec<u8> {
        messages
            .iter()
            .flat_map(|m| encode_frame(m).unwrap())
            .collect()
    }

    fn hello() -> ClientMessage {
        ClientMessage::Hello {
            version: 1,
            client_id: [1; 16],
            resume_after: 0,
        }
    }

    #[tokio::test]
    async fn answers_every_ping_in_order() {
        let mut msgs = vec![hello()];
        msgs.extend((0..100).map(|seq| ClientMessage::Ping {
            seq,
            payload: vec![1, 2, 3],
        }));
        msgs.push(ClientMessage::Goodbye);
        let (end, replies) = exchange(frames(&msgs), false).await;
        assert_eq!(end, SessionEnd::ClientLeft);
        assert!(matches!(replies[0], ServerMessage::Welcome { .. }));
        let seqs: Vec<u64> = replies[1..]
            .iter()
            .map(|r| match r {
                ServerMessage::Pong { seq, .. } => *seq,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn garbage_gets_an_error_frame() {
        let (end, replies) = exchange(vec![0x03, 0xee, 0xee, 0xee], false).await;
        assert!(
            matches!(end, SessionEnd::Refused { code, .. } if code == ErrorCode::MalformedFrame.as_u16())
        );
        assert!(matches!(replies.last(), Some(ServerMessage::Error { .. })));
    }

    #[tokio::test]
    async fn huge_length_prefix_is_refused_without_waiting_for_the_body() {
        let (end, _) = exchange(vec![0x80, 0x80, 0x80, 0x80, 0x10], false).await;
        assert!(
            matches!(end, SessionEnd::Refused { code, .. } if code == ErrorCode::LimitExceeded.as_u16())
        );
    }

    #[tokio::test]
    async fn silent_client_times_out_waiting_for_hello() {
        let (end, replies) = exchange(vec![], false).await;
        assert!(
            matches!(end, SessionEnd::Refused { code, .. } if code == ErrorCode::HelloTimeout.as_u16())
        );
        assert_eq!(replies.len(), 1);
    }

    #[tokio::test]
    async fn stream_cut_mid_frame_is_a_malformed_frame() {
        let mut bytes = frames(&[hello()]);
        bytes.extend([10, 1, 2]);
        let (end, _) = exchange(bytes, true).await;
        assert!(
            matches!(end, SessionEnd::Refused { code, .. } if code == ErrorCode::MalformedFrame.as_u16())
        );
    }

    #[tokio::test]
    async fn shutdown_sends_drain_and_keeps_answering_until_the_client_leaves() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (sr, mut sw) = tokio::io::split(server);
        let (cr, mut cw) = tokio::io::split(client);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let server = tokio::spawn(async move {
            run_control_stream(
                sr,
                &mut sw,
                &ctx(&info(), timing(Duration::from_secs(5))),
                &stop,
            )
            .await
        });
        let mut reader = FramedReader::new(cr);
        cw.write_all(&frames(&[hello()])).await.unwrap();
        assert!(matches!(
            reader.next::<ServerMessage>().await.unwrap(),
            Some(ServerMessage::Welcome { .. })
        ));
        shutdown.cancel();
        assert!(matches!(
            reader.next::<ServerMessage>().await.unwrap(),
            Some(ServerMessage::Drain { .. })
        ));
        // A ping already on its way is still answered.
        cw.write_all(&frames(&[ClientMessage::Ping {
            seq: 1,
            payload: vec![],
        }]))
        .await
        .unwrap();
        assert!(matches!(
            reader.next::<ServerMessage>().await.unwrap(),
            Some(ServerMessage::Pong { seq: 1, .. })
        ));
        cw.write_all(&frames(&[ClientMessage::Goodbye]))
            .await
            .unwrap();
        let (end, _) = server.await.unwrap().unwrap();
        assert_eq!(end, SessionEnd::ClientLeft);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_ignores_drain_is_closed_after_the_drain_timeout() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (sr, mut sw) = tokio::io::split(server);
        let (_cr, mut cw) = tokio::io::split(client);
        cw.write_all(&frames(&[hello()])).await.unwrap();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let server = tokio::spawn(async move {
            run_control_stream(
                sr,
                &mut sw,
                &ctx(&info(), timing(Duration::from_secs(5))),
                &stop,
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        shutdown.cancel();
        let (end, _) = server.await.unwrap().unwrap();
        assert_eq!(end, SessionEnd::Shutdown);
    }

    /// One session of client [1; 16] against shared outboxes; returns what it got.
    async fn session_with(
        outboxes: &'static Mutex<Outboxes>,
        messages: Vec<ClientMessage>,
    ) -> Vec<ServerMessage> {
        let (client, server) = tokio::io::duplex(1 << 20);
        let (sr, mut sw) = tokio::io::split(server);
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(&frames(&messages)).await.unwrap();
        cw.shutdown().await.unwrap();
        let info = info();
        let ctx = SessionContext {
            info: &info,
            timing: timing(Duration::from_secs(5)),
            metrics: None,
            outboxes,
            outbox_limits: OutboxLimits::default(),
        };
        run_control_stream(sr, &mut sw, &ctx, &CancellationToken::new())
            .await
            .unwrap();
        drop(sw);
        let mut out = Vec::new();
        cr.read_to_end(&mut out).await.unwrap();
        let mut decoder = crate::proto::FrameDecoder::new();
        decoder.push(&out);
        std::iter::from_fn(|| decoder.decode::<ServerMessage>().unwrap()).collect()
    }

    #[tokio::test]
    async fn a_returning_client_gets_missed_pongs_and_repeats_are_answered_from_the_outbox() {
        let outboxes: &'static Mutex<Outboxes> =
            Box::leak(Box::new(Mutex::new(Outboxes::default())));
        let ping = |seq: u64, byte: u8| ClientMessage::Ping {
            seq,
            payload: vec![byte],
        };
        // First session: pings 1..=3 answered; the client saw only up to 1.
        let first = session_with(outboxes, vec![hello(), ping(1, 1), ping(2, 2), ping(3, 3)]).await;
        assert_eq!(first.len(), 4);
        // Second session: resume after 1 → pongs 2 and 3 replayed at once; ping 3
        // sent again with another payload is answered from the outbox (original
        // payload), not processed again; ping 4 is new.
        let resume = ClientMessage::Hello {
            version: 1,
            client_id: [1; 16],
            resume_after: 1,
        };
        let second = session_with(outboxes, vec![resume, ping(3, 99), ping(4, 4)]).await;
        let pongs: Vec<(u64, Vec<u8>)> = second
            .iter()
            .filter_map(|m| match m {
                ServerMessage::Pong { seq, payload } => Some((*seq, payload.clone())),
                _ => None,
            })
            .collect();
        assert!(matches!(second[0], ServerMessage::Welcome { .. }));
        assert_eq!(
            pongs,
            vec![(2, vec![2]), (3, vec![3]), (3, vec![3]), (4, vec![4])]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slowloris_gets_an_error_and_a_close() {
        let mut bytes = frames(&[hello()]);
        bytes.extend([40, 1]); // a 40-byte frame that never comes
        let (end, replies) = exchange(bytes, false).await;
        assert!(
            matches!(end, SessionEnd::Refused { code, .. } if code == ErrorCode::LimitExceeded.as_u16())
        );
        assert!(matches!(replies.last(), Some(ServerMessage::Error { .. })));
    }

    #[tokio::test]
    async fn shutdown_ends_the_session() {
        let (_client, server) = tokio::io::duplex(1024);
        let (r, mut w) = tokio::io::split(server);
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let (end, _) = run_control_stream(
            r,
            &mut w,
            &ctx(&info(), timing(Duration::from_secs(5))),
            &shutdown,
        )
        .await
        .unwrap();
        assert_eq!(end, SessionEnd::Shutdown);
    }
}
