//! The server side of one session as a sans-IO state machine: messages in,
//! actions out. No sockets, no clocks; the handler drives it.

use crate::proto::{
    negotiate_version, ClientMessageView, ErrorCode, FrameError, ServerMessage, ServerState,
};

/// Who this server is, as told in `Welcome`.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// Random id of this server process.
    pub server_id: [u8; 16],
    /// Instance name.
    pub instance: String,
}

/// What the handler must do after a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this message and keep going.
    Reply(ServerMessage),
    /// Answer ping `seq` with a `Pong` carrying its payload unchanged (the
    /// handler still holds the payload where it was received).
    Pong {
        /// The ping's seq.
        seq: u64,
    },
    /// Send this message, then end the session.
    ReplyAndClose(ServerMessage),
    /// End the session without a word (the client said Goodbye).
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingHello,
    Established { version: u16 },
}

/// State of one session.
#[derive(Debug)]
pub struct Session {
    phase: Phase,
    client_id: Option<[u8; 16]>,
    resume_after: u64,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// A session waiting for `Hello`.
    pub fn new() -> Self {
        Self {
            phase: Phase::AwaitingHello,
            client_id: None,
            resume_after: 0,
        }
    }

    /// The client's id, once it said Hello.
    pub fn client_id(&self) -> Option<[u8; 16]> {
        self.client_id
    }

    /// The `resume_after` of the client's Hello.
    pub fn resume_after(&self) -> u64 {
        self.resume_after
    }

    /// The version in use, once negotiated.
    pub fn version(&self) -> Option<u16> {
        match self.phase {
            Phase::Established { version } => Some(version),
            Phase::AwaitingHello => None,
        }
    }

    /// Handles one message from the client.
    pub fn on_message(&mut self, info: &ServerInfo, message: &ClientMessageView<'_>) -> Action {
        match (self.phase, *message) {
            (
                Phase::AwaitingHello,
                ClientMessageView::Hello {
                    version,
                    client_id,
                    resume_after,
                },
            ) => match negotiate_version(version) {
                Some(version) => {
                    self.phase = Phase::Established { version };
                    self.client_id = Some(client_id);
                    self.resume_after = resume_after;
                    Action::Reply(ServerMessage::Welcome {
                        version,
                        server_id: info.server_id,
                        instance: info.instance.clone(),
                        state: ServerState::Serving,
                    })
                }
                None => close_with(
                    ErrorCode::UnsupportedVersion,
                    format!(
                        "protocol version {version} is not supported; this server speaks {}..={}",
                        crate::proto::MIN_VERSION,
                        crate::proto::MAX_VERSION
                    ),
                ),
            },
            (Phase::Established { .. }, ClientMessageView::Ping { seq, .. }) => {
                Action::Pong { seq }
            }
            (_, ClientMessageView::Goodbye) => Action::Close,
            (Phase::AwaitingHello, ClientMessageView::Ping { .. }) => close_with(
                ErrorCode::UnexpectedMessage,
                "Ping before Hello: a session starts with Hello".into(),
            ),
            (Phase::Established { .. }, ClientMessageView::Hello { .. }) => close_with(
                ErrorCode::UnexpectedMessage,
                "Hello sent twice in one session".into(),
            ),
        }
    }

    /// The answer to a frame that could not be decoded.
    pub fn on_frame_error(&mut self, error: &FrameError) -> Action {
        let code = match error {
            FrameError::Oversized { .. } => ErrorCode::LimitExceeded,
            _ => ErrorCode::MalformedFrame,
        };
        close_with(code, error.to_string())
    }

    /// The answer to a client that started a frame and did not finish it.
    pub fn on_stall(&mut self, detail: &str) -> Action {
        close_with(ErrorCode::LimitExceeded, detail.to_string())
    }

    /// The answer to a client that sent no Hello in time.
    pub fn on_hello_timeout(&mut self) -> Action {
        close_with(ErrorCode::HelloTimeout, "no Hello received in time".into())
    }
}

fn close_with(code: ErrorCode, message: String) -> Action {
    Action::ReplyAndClose(ServerMessage::Error {
        code: code.as_u16(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ServerInfo {
        ServerInfo {
            server_id: [9; 16],
            instance: "test".into(),
        }
    }

    fn hello(version: u16) -> ClientMessageView<'static> {
        ClientMessageView::Hello {
            version,
            client_id: [1; 16],
            resume_after: 0,
        }
    }

    fn error_code(action: &Action) -> Option<u16> {
        match action {
            Action::ReplyAndClose(ServerMessage::Error { code, .. }) => Some(*code),
            _ => None,
        }
    }

    #[test]
    fn hello_then_pings_get_welcome_then_pongs() {
        let mut s = Session::new();
        match s.on_message(&info(), &hello(1)) {
            Action::Reply(ServerMessage::Welcome {
                version: 1,
                server_id,
                ..
            }) => {
                assert_eq!(server_id, [9; 16])
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(s.client_id(), Some([1; 16]));
        let pong = s.on_message(
            &info(),
            &ClientMessageView::Ping {
                seq: 7,
                payload: b"x",
            },
        );
        assert_eq!(pong, Action::Pong { seq: 7 });
    }

    #[test]
    fn newer_client_is_served_at_our_version() {
        let mut s = Session::new();
        assert!(matches!(
            s.on_message(&info(), &hello(42)),
            Action::Reply(ServerMessage::Welcome { version: 1, .. })
        ));
        assert_eq!(s.version(), Some(1));
    }

    #[test]
    fn unsupported_version_is_an_error_and_a_close() {
        let mut s = Session::new();
        let action = s.on_message(&info(), &hello(0));
        assert_eq!(
            error_code(&action),
            Some(ErrorCode::UnsupportedVersion.as_u16())
        );
    }

    #[test]
    fn ping_before_hello_and_double_hello_are_refused() {
        let mut s = Session::new();
        let action = s.on_message(
            &info(),
            &ClientMessageView::Ping {
                seq: 1,
                payload: &[],
            },
        );
        assert_eq!(
            error_code(&action),
            Some(ErrorCode::UnexpectedMessage.as_u16())
        );
        let mut s = Session::new();
        s.on_message(&info(), &hello(1));
        let action = s.on_message(&info(), &hello(1));
        assert_eq!(
            error_code(&action),
            Some(ErrorCode::UnexpectedMessage.as_u16())
        );
    }

    #[test]
    fn goodbye_closes_quietly() {
        let mut s = Session::new();
        s.on_message(&info(), &hello(1));
        assert_eq!(
            s.on_message(&info(), &ClientMessageView::Goodbye),
            Action::Close
        );
    }

    #[test]
    fn oversized_frames_are_a_limit_error() {
        let mut s = Session::new();
        let action = s.on_frame_error(&FrameError::Oversized {
            len: 1 << 32,
            max: 65536,
        });
        assert_eq!(error_code(&action), Some(ErrorCode::LimitExceeded.as_u16()));
        let action = s.on_frame_error(&FrameError::UnknownTag { tag: 9 });
        assert_eq!(
            error_code(&action),
            Some(ErrorCode::MalformedFrame.as_u16())
        );
    }
}
