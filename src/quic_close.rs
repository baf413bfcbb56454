//! The one place that reads a QUIC close out of wtransport's error text.
//!
//! A handshake refused by TLS closes the connection with the crypto error
//! 0x100 + the TLS alert (RFC 9001 §4.8). quinn's `ConnectionError` carries
//! that code typed, but wtransport 0.7.2 converts it into its own
//! `ConnectionError` whose `QuicProtoError` and `ConnectionClose` keep the
//! code private, and its `IncomingSessionFuture::with_quic_incoming` /
//! `with_quic_connecting` drive the handshake themselves and make the same
//! conversion, so neither side ever holds quinn's typed error. What is left is
//! the text both print, which this module reads; its tests build every error
//! exactly as wtransport does (through its public `From<quinn::ConnectionError>`)
//! and pin that text, so an upgrade that changes it fails here. The accessors
//! that would let this module go are written up in
//! docs/upstream/wtransport-close-codes.md.
//!
//! It also tells, by code this time, the close a wtransport server sends when
//! it misread our SETTINGS ([`settings_misread`]), which the client retries.

use wtransport::error::ConnectionError;

/// First QUIC error code of the crypto range: 0x100 + TLS alert (RFC 9001 §4.8).
const CRYPTO_ERROR_BASE: u64 = 0x100;

/// Which side's TLS refused the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedBy {
    /// Our TLS stack refused the peer (and sent the alert).
    Us,
    /// The peer's TLS stack refused us (and sent the alert).
    Peer,
}

/// A handshake refused by TLS: who refused, with which alert (RFC 8446 §6.2),
/// and the refusing stack's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRefusal {
    /// Who refused.
    pub by: RefusedBy,
    /// The TLS alert (42 bad certificate, 48 unknown CA, 116 certificate
    /// required, ...).
    pub alert: u8,
    /// What the refusing stack said, if anything.
    pub reason: String,
}

/// The TLS refusal `error` stands for, if it is one.
pub fn tls_refusal(error: &ConnectionError) -> Option<TlsRefusal> {
    let text = error.to_string();
    match error {
        // wtransport: "connection aborted by peer: {close}"; quinn's close:
        // "the cryptographic handshake failed: error {alert}[: {reason}]".
        ConnectionError::ConnectionClosed(_) => {
            let rest = text
                .split("the cryptographic handshake failed: error ")
                .nth(1)?;
            let (alert, reason) = split_number(rest)?;
            Some(TlsRefusal {
                by: RefusedBy::Peer,
                alert: u8::try_from(alert).ok()?,
                reason: reason.strip_prefix(": ").unwrap_or(reason).to_string(),
            })
        }
        // wtransport: "QUIC protocol error: {reason} (code: {code})".
        ConnectionError::QuicProto(_) => {
            let body = text.strip_prefix("QUIC protocol error: ")?;
            let (reason, code) = body.rsplit_once(" (code: ")?;
            let (code, rest) = split_number(code)?;
            if rest != ")" || !(CRYPTO_ERROR_BASE..CRYPTO_ERROR_BASE + 0x100).contains(&code) {
                return None;
            }
            Some(TlsRefusal {
                by: RefusedBy::Us,
                alert: (code - CRYPTO_ERROR_BASE) as u8,
                reason: reason.to_string(),
            })
        }
        _ => None,
    }
}

/// H3_EXCESSIVE_LOAD (RFC 9114 §8.1), the HTTP/3 error code 0x107.
const H3_EXCESSIVE_LOAD: u32 = 0x107;

/// Whether a connection attempt failed because the server closed it with
/// H3_EXCESSIVE_LOAD while the HTTP/3 session was being set up. A wtransport
/// 0.7.2 server does that when our SETTINGS frame reaches it split across
/// packets and a stream arrives in between (it drops the half-read frame:
/// docs/upstream/wtransport-settings-cancel-safety.md), so the attempt is
/// worth one retry. Read by code: wtransport keeps an application close's
/// code public.
pub fn settings_misread(error: &wtransport::error::ConnectingError) -> bool {
    matches!(
        error,
        wtransport::error::ConnectingError::ConnectionError(ConnectionError::ApplicationClosed(close))
            if close.code() == wtransport::VarInt::from_u32(H3_EXCESSIVE_LOAD)
    )
}

/// The decimal number at the start of `text`, and what follows it.
fn split_number(text: &str) -> Option<(u64, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    Some((text[..end].parse().ok()?, &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wtransport::quinn;

    /// Our side's transport error, converted as wtransport converts it.
    fn ours(code: quinn::TransportErrorCode, reason: &str) -> ConnectionError {
        let mut error = quinn_proto::TransportError::from(code);
        error.reason = reason.to_string();
        ConnectionError::from(quinn::ConnectionError::TransportError(error))
    }

    /// The peer's close, converted as wtransport converts it.
    fn theirs(code: quinn::TransportErrorCode, reason: &str) -> ConnectionError {
        let mut error = quinn_proto::TransportError::from(code);
        error.reason = reason.to_string();
        ConnectionError::from(quinn::ConnectionError::ConnectionClosed(error.into()))
    }

    #[test]
    fn wtransport_prints_the_close_as_this_module_reads_it() {
        // Pinned: if wtransport or quinn word these differently, this fails
        // and `tls_refusal` must follow.
        assert_eq!(
            ours(
                quinn::TransportErrorCode::crypto(48),
                "invalid peer certificate: UnknownIssuer"
            )
            .to_string(),
            "QUIC protocol error: invalid peer certificate: UnknownIssuer (code: 304)"
        );
        assert_eq!(
            theirs(quinn::TransportErrorCode::crypto(116), "peer sent no certificates").to_string(),
            "connection aborted by peer: the cryptographic handshake failed: error 116: peer sent no certificates"
        );
        assert_eq!(
            theirs(quinn::TransportErrorCode::crypto(42), "").to_string(),
            "connection aborted by peer: the cryptographic handshake failed: error 42"
        );
    }

    #[test]
    fn a_refusal_is_read_with_its_side_alert_and_reason() {
        assert_eq!(
            tls_refusal(&ours(
                quinn::TransportErrorCode::crypto(48),
                "invalid peer certificate: UnknownIssuer"
            )),
            Some(TlsRefusal {
                by: RefusedBy::Us,
                alert: 48,
                reason: "invalid peer certificate: UnknownIssuer".into(),
            })
        );
        assert_eq!(
            tls_refusal(&theirs(
                quinn::TransportErrorCode::crypto(116),
                "peer sent no certificates"
            )),
            Some(TlsRefusal {
                by: RefusedBy::Peer,
                alert: 116,
                reason: "peer sent no certificates".into(),
            })
        );
        assert_eq!(
            tls_refusal(&theirs(quinn::TransportErrorCode::crypto(42), "")).map(|r| r.alert),
            Some(42)
        );
    }

    #[test]
    fn a_settings_misread_is_told_by_its_code() {
        let closed = |code: u32| {
            wtransport::error::ConnectingError::ConnectionError(ConnectionError::from(
                quinn::ConnectionError::ApplicationClosed(quinn::ApplicationClose {
                    error_code: quinn::VarInt::from_u32(code),
                    reason: Default::default(),
                }),
            ))
        };
        assert!(settings_misread(&closed(0x107)));
        assert!(!settings_misread(&closed(0x105)));
        assert!(!settings_misread(
            &wtransport::error::ConnectingError::SessionRejected
        ));
    }

    #[test]
    fn other_closes_are_not_refusals() {
        for error in [
            ours(
                quinn::TransportErrorCode::PROTOCOL_VIOLATION,
                "bad frame (code: 300)",
            ),
            theirs(quinn::TransportErrorCode::CONNECTION_REFUSED, ""),
            ConnectionError::TimedOut,
            ConnectionError::from(quinn::ConnectionError::Reset),
        ] {
            assert_eq!(tls_refusal(&error), None, "{error}");
        }
    }
}
