//! One DNS message to the zone's primary and its answer, over UDP: updates
//! signed with TSIG (hickory-proto signs and verifies), queries unsigned.
//!
//! The exchange is written here rather than through hickory-net's client so
//! that an error answer keeps its codes: the response code and the TSIG error
//! (BADSIG, BADKEY, BADTIME with the server's clock) decide the message the
//! operator sees, and an unsigned refusal is still read.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType, TSigner};
use tokio::net::UdpSocket;

use super::RegisterError;

/// How long one attempt waits for the answer: a primary on the same site
/// answers in milliseconds; a second covers a loaded one.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
/// Attempts per message: UDP may lose one; three seconds in all before the
/// caller backs off and reports the server unreachable.
const ATTEMPTS: u32 = 3;
/// Largest answer read (EDNS payload offered, with room).
const MAX_ANSWER: usize = 4096;

/// What went wrong with one exchange, by code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer after every attempt.
    NoAnswer,
    /// The socket failed (no route, address family unavailable...).
    Network(String),
    /// The server answered with an error code.
    Refused {
        /// The response code.
        code: ResponseCode,
        /// The TSIG error, if the server set one.
        tsig: Option<TsigError>,
        /// For BADTIME: the server's clock minus ours, in seconds.
        skew: Option<i64>,
    },
    /// The answer was signed but its signature does not verify (or it was not
    /// signed although the request was): not from the server holding the key.
    NotAuthentic(String),
    /// The answer could not be parsed or encoded.
    Malformed(String),
}

impl Failure {
    /// The error a user reads, for an exchange with `server` about `zone`
    /// signed with key `key`.
    pub fn into_error(self, server: SocketAddr, zone: &str, key: &str) -> RegisterError {
        let zone = zone.trim_end_matches('.').to_string();
        match self {
            Failure::NoAnswer => RegisterError::Unreachable { server, zone },
            Failure::Network(reason) => RegisterError::Network { server, reason },
            Failure::Refused { code, tsig, skew } => RegisterError::Rejected {
                server,
                zone,
                key: key.to_string(),
                code,
                tsig,
                skew,
            },
            Failure::NotAuthentic(reason) => RegisterError::NotAuthentic {
                server,
                key: key.to_string(),
                reason,
            },
            Failure::Malformed(reason) => RegisterError::Malformed { server, reason },
        }
    }
}

/// Sends `message` to `server`, signed with `signer` if given, and returns the
/// answer when its code is NOERROR (or NXDOMAIN for a query: that is an
/// answer).
pub async fn exchange(
    server: SocketAddr,
    mut message: Message,
    signer: Option<&TSigner>,
) -> Result<Message, Failure> {
    let now = unix_now();
    let mut verifier = match signer {
        Some(signer) => message
            .finalize(signer, now)
            .map_err(|e| Failure::Malformed(format!("cannot sign: {e}")))?,
        None => None,
    };
    let bytes = message
        .to_vec()
        .map_err(|e| Failure::Malformed(e.to_string()))?;
    let bind: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    socket
        .connect(server)
        .await
        .map_err(|e| Failure::Network(e.to_string()))?;
    let mut buffer = vec![0; MAX_ANSWER];
    for _ in 0..ATTEMPTS {
        socket
            .send(&bytes)
            .await
            .map_err(|e| Failure::Network(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + ATTEMPT_TIMEOUT;
        loop {
            let received = tokio::time::timeout_at(deadline, socket.recv(&mut buffer)).await;
            let len = match received {
                Err(_) => break,
                Ok(Err(e)) => return Err(Failure::Network(e.to_string())),
                Ok(Ok(len)) => len,
            };
            let answer = &buffer[..len];
            let Ok(parsed) = Message::from_vec(answer) else {
                continue;
            };
            if parsed.id != message.id || parsed.message_type != MessageType::Response {
                // Not ours (a late answer to an earlier attempt has our id too,
                // and is as good).
                continue;
            }
            return judge(parsed, answer, verifier.as_mut(), now);
        }
    }
    Err(Failure::NoAnswer)
}

/// Reads the codes of an answer; a signed request needs a signed, verified
/// success.
fn judge(
    parsed: Message,
    bytes: &[u8],
    verifier: Option<&mut hickory_proto::rr::TSigVerifier>,
    now: u64,
) -> Result<Message, Failure> {
    let tsig = parsed.signature().map(|record| record.data.clone());
    let code = parsed.response_code;
    // NXDOMAIN answers a query (the name is free); it is no error there.
    let answered = code == ResponseCode::NoError
        || (code == ResponseCode::NXDomain && parsed.op_code == OpCode::Query);
    let is_error = !answered;
    let tsig_error = tsig.as_ref().and_then(|t| t.error);
    if is_error || tsig_error.is_some() {
        let skew = match (&tsig_error, &tsig) {
            (Some(TsigError::BadTime), Some(t)) => {
                server_time(&t.other).map(|s| s as i64 - now as i64)
            }
            _ => None,
        };
        return Err(Failure::Refused {
            code,
            tsig: tsig_error,
            skew,
        });
    }
    match verifier {
        None => Ok(parsed),
        Some(verifier) => verifier
            .verify(bytes)
            .map(|_| parsed)
            .map_err(|e| Failure::NotAuthentic(e.to_string())),
    }
}

/// BADTIME answers carry the server's time as 48 bits in "other data"
/// (RFC 8945 §5.2.3).
fn server_time(other: &[u8]) -> Option<u64> {
    (other.len() == 6).then(|| other.iter().fold(0u64, |t, b| t << 8 | u64::from(*b)))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Records of type `kind` at `name`, asked of `server` directly (no cache):
/// empty when the name or the type does not exist.
pub async fn query(
    server: SocketAddr,
    name: &Name,
    kind: RecordType,
) -> Result<Vec<Record>, Failure> {
    let mut message = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    let mut question = Query::query(name.clone(), kind);
    question.set_query_class(DNSClass::IN);
    message.add_query(question);
    let answer = exchange(server, message, None).await?;
    Ok(answer
        .answers
        .into_iter()
        .filter(|r| r.name == *name && (kind == RecordType::ANY || r.record_type() == kind))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badtime_carries_the_servers_clock() {
        assert_eq!(
            server_time(&[0, 0, 0x65, 0x00, 0x00, 0x10]),
            Some(0x6500_0010)
        );
        assert_eq!(server_time(&[1, 2]), None);
    }

    #[test]
    fn error_codes_are_kept() {
        let mut answer = Message::new(7, MessageType::Response, OpCode::Update);
        answer.metadata.response_code = ResponseCode::Refused;
        let bytes = answer.to_vec().unwrap();
        let judged = judge(Message::from_vec(&bytes).unwrap(), &bytes, None, 0);
        assert_eq!(
            judged.unwrap_err(),
            Failure::Refused {
                code: ResponseCode::Refused,
                tsig: None,
                skew: None
            }
        );
        let mut nx = Message::new(8, MessageType::Response, OpCode::Query);
        nx.metadata.response_code = ResponseCode::NXDomain;
        let bytes = nx.to_vec().unwrap();
        assert!(judge(Message::from_vec(&bytes).unwrap(), &bytes, None, 0).is_ok());
    }
}
