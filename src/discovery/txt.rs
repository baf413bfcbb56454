//! The TXT record of a pingpong server (RFC 6763 `key=value` strings), built for
//! advertising and parsed, as untrusted input, when discovered.
//!
//! Keys: `v` protocol version, `id` server instance id (32 hex digits), `path`
//! WebTransport path, `state` `serving|draining`, `fp` SHA-256 of the server
//! certificate (hex, possibly shortened), `load` sessions in use per mille of
//! capacity (optional). Unknown keys are ignored; keys are case-insensitive.

use crate::proto::ServerState;
use crate::text::printable;

/// One TXT string (RFC 6763 §6.3-6.5): split at the first `=`, the key
/// lowercased (keys are case-insensitive); a key without `=` is a boolean
/// (present, no value). Values may be any bytes: they come back printable
/// (see [`printable`]), so binary values show safely.
pub fn parse_txt_string(bytes: &[u8]) -> (String, String) {
    match bytes.iter().position(|b| *b == b'=') {
        Some(at) => (
            printable(&bytes[..at]).to_ascii_lowercase(),
            printable(&bytes[at + 1..]),
        ),
        None => (printable(bytes).to_ascii_lowercase(), String::new()),
    }
}

/// Longest value pingpong accepts for any key (RFC 6763 suggests short records).
pub const MAX_VALUE_LEN: usize = 128;
/// Longest WebTransport path accepted from the network.
pub const MAX_PATH_LEN: usize = 64;

/// What a server says about itself in TXT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTxt {
    /// Protocol version (`v`).
    pub version: u16,
    /// Server instance id (`id`).
    pub server_id: Option<[u8; 16]>,
    /// WebTransport path (`path`).
    pub path: String,
    /// Serving or draining (`state`).
    pub state: ServerState,
    /// Certificate fingerprint, lowercase hex (`fp`).
    pub fingerprint: Option<String>,
    /// Sessions in use, per mille of capacity (`load`).
    pub load: Option<u16>,
}

/// Why a TXT record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxtError {
    /// A required key is absent.
    #[error("TXT record has no {0:?} key")]
    Missing(&'static str),
    /// A value is malformed or too long.
    #[error("TXT key {key:?} has an invalid value: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

impl ServerTxt {
    /// A TXT for unit tests: version 1, path `/pingpong`, `state`, nothing
    /// else.
    #[cfg(test)]
    pub(crate) fn for_test(state: ServerState) -> Self {
        Self {
            version: 1,
            server_id: None,
            path: "/pingpong".into(),
            state,
            fingerprint: None,
            load: None,
        }
    }

    /// The `key=value` pairs to advertise.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("v".to_string(), self.version.to_string()),
            ("path".to_string(), self.path.clone()),
            ("state".to_string(), state_name(self.state).to_string()),
        ];
        if let Some(id) = self.server_id {
            pairs.push(("id".into(), hex(&id)));
        }
        if let Some(fp) = &self.fingerprint {
            pairs.push(("fp".into(), fp.clone()));
        }
        if let Some(load) = self.load {
            pairs.push(("load".into(), load.to_string()));
        }
        pairs
    }

    /// Parses received pairs. `get` looks a key up (case-insensitively).
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, TxtError> {
        let value = |key: &'static str| -> Result<Option<&'a str>, TxtError> {
            match get(key) {
                Some(v) if v.len() > MAX_VALUE_LEN => Err(TxtError::Invalid {
                    key,
                    reason: format!("{} bytes, the limit is {MAX_VALUE_LEN}", v.len()),
                }),
                other => Ok(other),
            }
        };
        let invalid = |key: &'static str, reason: &str| TxtError::Invalid {
            key,
            reason: reason.to_string(),
        };

        let version = value("v")?
            .ok_or(TxtError::Missing("v"))?
            .parse::<u16>()
            .map_err(|_| invalid("v", "not a version number"))?;
        let server_id = value("id")?
            .map(|id| parse_id(id).ok_or_else(|| invalid("id", "not 32 hex digits")))
            .transpose()?;
        let path = match value("path")? {
            None => crate::service::DEFAULT_PATH.to_string(),
            Some(p) if p.len() > MAX_PATH_LEN => return Err(invalid("path", "too long")),
            Some(p) if !p.starts_with('/') || !p.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(invalid(
                    "path",
                    "must start with '/' and be printable ASCII",
                ))
            }
            Some(p) => p.to_string(),
        };
        let state = match value("state")? {
            None | Some("serving") => ServerState::Serving,
            Some("draining") => ServerState::Draining,
            Some(_) => return Err(invalid("state", "neither serving nor draining")),
        };
        let fingerprint = value("fp")?
            .map(|fp| {
                let ok = (8..=64).contains(&fp.len()) && fp.bytes().all(|b| b.is_ascii_hexdigit());
                ok.then(|| fp.to_ascii_lowercase())
                    .ok_or_else(|| invalid("fp", "not 8 to 64 hex digits"))
            })
            .transpose()?;
        let load = value("load")?
            .map(|l| match l.parse::<u16>() {
                Ok(n) if n <= 1000 => Ok(n),
                _ => Err(invalid("load", "not a number from 0 to 1000")),
            })
            .transpose()?;
        Ok(Self {
            version,
            server_id,
            path,
            state,
            fingerprint,
            load,
        })
    }
}

/// `serving` / `draining`.
pub fn state_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Serving => "serving",
        ServerState::Draining => "draining",
    }
}

pub use crate::text::hex;

fn parse_id(s: &str) -> Option<[u8; 16]> {
    // Hex digits only: `from_str_radix` alone would take "+a" as a byte.
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<ServerTxt, TxtError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        ServerTxt::parse(|key| map.get(key).map(String::as_str))
    }

    #[test]
    fn round_trips_through_pairs() {
        let txt = ServerTxt {
            version: 1,
            server_id: Some([0xab; 16]),
            path: "/pingpong".into(),
            state: ServerState::Draining,
            fingerprint: Some("ab".repeat(32)),
            load: Some(250),
        };
        let pairs = txt.to_pairs();
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(parse(&borrowed).unwrap(), txt);
    }

    #[test]
    fn minimal_record_gets_defaults() {
        let txt = parse(&[("v", "1")]).unwrap();
        assert_eq!(txt.path, "/pingpong");
        assert_eq!(txt.state, ServerState::Serving);
        assert_eq!(txt.server_id, None);
    }

    #[test]
    fn hostile_values_are_refused() {
        let long = "a".repeat(MAX_VALUE_LEN + 1);
        for (pairs, key) in [
            (vec![], "v"),
            (vec![("v", "one")], "v"),
            (vec![("v", "1"), ("id", "xyz")], "id"),
            (vec![("v", "1"), ("id", "é".repeat(16).as_str())], "id"),
            (vec![("v", "1"), ("path", "no-slash")], "path"),
            (vec![("v", "1"), ("path", "/a b")], "path"),
            (vec![("v", "1"), ("path", long.as_str())], "path"),
            (vec![("v", "1"), ("state", "on fire")], "state"),
            (vec![("v", "1"), ("fp", "zz")], "fp"),
            (vec![("v", "1"), ("load", "1001")], "load"),
        ] {
            let err = parse(&pairs).unwrap_err();
            let named = match &err {
                TxtError::Missing(k) => *k,
                TxtError::Invalid { key, .. } => *key,
            };
            assert_eq!(named, key, "{pairs:?}: {err}");
        }
    }
}
