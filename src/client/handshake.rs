//! The client's opening exchange: `Hello` out, `Welcome` (or `Error`) back.

use tokio::io::{AsyncRead, AsyncWrite};

use super::ClientError;
use crate::framed::{write_message, FramedReader};
use crate::proto::{
    ClientMessage, ErrorCode, ServerMessage, ServerState, MAX_VERSION, MIN_VERSION,
};

/// Who is (re)connecting: the client id of a run and the last seq below which
/// every pong has arrived (`Hello { client_id, resume_after }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// Stable for the whole run, across reconnections.
    pub client_id: [u8; 16],
    /// Every pong up to this seq has arrived.
    pub after: u64,
}

impl Resume {
    /// A client that has not pinged yet, with a new random id.
    pub fn new_client() -> Self {
        Self {
            client_id: rand::random(),
            after: 0,
        }
    }
}

/// What the server said in `Welcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// Negotiated protocol version.
    pub version: u16,
    /// The server's instance id.
    pub server_id: [u8; 16],
    /// The server's instance name.
    pub instance: String,
    /// Serving or draining.
    pub state: ServerState,
}

/// Sends `Hello` and waits for the answer.
pub async fn handshake<R, W>(
    reader: &mut FramedReader<R>,
    writer: &mut W,
    version: u16,
    client_id: [u8; 16],
    resume_after: u64,
) -> Result<Welcome, ClientError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let hello = ClientMessage::Hello {
        version,
        client_id,
        resume_after,
    };
    write_message(writer, &hello).await?;
    match reader.next::<ServerMessage>().await? {
        Some(ServerMessage::Welcome {
            version: chosen,
            server_id,
            instance,
            state,
        }) => {
            if chosen > version || !(MIN_VERSION..=MAX_VERSION).contains(&chosen) {
                return Err(ClientError::Protocol(format!(
                    "server chose protocol version {chosen}, we asked for at most {version}"
                )));
            }
            Ok(Welcome {
                version: chosen,
                server_id,
                instance,
                state,
            })
        }
        Some(ServerMessage::Error { code, message }) => {
            Err(if code == ErrorCode::UnsupportedVersion.as_u16() {
                ClientError::UnsupportedVersion { message }
            } else {
                ClientError::Refused { code, message }
            })
        }
        Some(other) => Err(ClientError::Protocol(format!(
            "expected Welcome, got {other:?}"
        ))),
        None => Err(ClientError::SessionLost(
            "the server closed the stream before answering Hello".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::handler::run_control_stream;
    use crate::server::ServerInfo;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    async fn against_server(version: u16) -> Result<Welcome, ClientError> {
        let (client, server) = tokio::io::duplex(4096);
        let (sr, mut sw) = tokio::io::split(server);
        let (cr, mut cw) = tokio::io::split(client);
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(async move {
            let info = ServerInfo {
                server_id: [5; 16],
                instance: "unit".into(),
            };
            let outboxes = std::sync::Mutex::new(crate::server::outbox::Outboxes::default());
            let ctx = crate::server::handler::SessionContext {
                info: &info,
                timing: crate::server::handler::SessionTiming {
                    hello_timeout: Duration::from_secs(5),
                    drain_timeout: Duration::from_secs(1),
                },
                metrics: None,
                outboxes: &outboxes,
                outbox_limits: Default::default(),
            };
            run_control_stream(sr, &mut sw, &ctx, &shutdown)
                .await
                .map(|_| ())
        });
        let mut reader = FramedReader::new(cr);
        let result = handshake(&mut reader, &mut cw, version, [1; 16], 0).await;
        drop(cw);
        drop(reader);
        let _ = server.await;
        result
    }

    #[tokio::test]
    async fn welcome_names_the_server() {
        let welcome = against_server(1).await.unwrap();
        assert_eq!(welcome.instance, "unit");
        assert_eq!(welcome.server_id, [5; 16]);
        assert_eq!(welcome.version, 1);
    }

    #[tokio::test]
    async fn unsupported_version_is_reported_as_such() {
        let err = against_server(0).await.unwrap_err();
        assert!(
            matches!(err, ClientError::UnsupportedVersion { .. }),
            "{err}"
        );
    }
}
