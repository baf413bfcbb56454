//! The static source: a server given as `https://host:port/path`, `host:port` or
//! just `host`.

use super::{Candidate, Source, DEFAULT_PORT};
use crate::service::DEFAULT_PATH;

/// Why a target cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid server address {input:?}: {reason}")]
pub struct TargetError {
    /// What was given.
    pub input: String,
    /// Why it is unusable.
    pub reason: String,
}

/// Parses a user-given server address. The scheme defaults to `https`, the port
/// to 4433 and the path to `/pingpong`.
///
/// ```
/// let c = pingpong::discovery::parse_target("web1.lan").unwrap();
/// assert_eq!(c.url(), "https://web1.lan:4433/pingpong");
/// ```
pub fn parse_target(input: &str) -> Result<Candidate, TargetError> {
    let err = |reason: &str| TargetError {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(err("empty"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| err(&e.to_string()))?;
    if url.scheme() != "https" {
        return Err(err("WebTransport needs an https:// URL"));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(err("no host")),
    };
    // `Url` hides the default https port (443); look at the input to tell.
    let port = url.port().unwrap_or(if has_explicit_port(trimmed) {
        443
    } else {
        DEFAULT_PORT
    });
    if port == 0 {
        return Err(err("port 0 cannot be connected to"));
    }
    let path = match url.path() {
        "" | "/" => DEFAULT_PATH.to_string(),
        p => p.to_string(),
    };
    let mut candidate = Candidate {
        key: String::new(),
        instance: host.clone(),
        host,
        addresses: Vec::new(),
        port,
        path,
        source: Source::Static,
        txt: None,
        srv: None,
        txt_pairs: Vec::new(),
        browsed: None,
    };
    candidate.key = candidate.url();
    Ok(candidate)
}

fn has_explicit_port(input: &str) -> bool {
    let rest = input.split_once("://").map_or(input, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    match authority.rsplit_once(']') {
        Some((_, after)) => after.starts_with(':'),
        None => authority.contains(':'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in() {
        let c = parse_target("server.lan").unwrap();
        assert_eq!(c.url(), "https://server.lan:4433/pingpong");
        let c = parse_target("127.0.0.1:9000").unwrap();
        assert_eq!(c.url(), "https://127.0.0.1:9000/pingpong");
        let c = parse_target("https://[::1]:7/other").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.path.as_str()),
            ("::1", 7, "/other")
        );
        assert_eq!(c.url(), "https://[::1]:7/other");
        let c = parse_target("https://h:443/").unwrap();
        assert_eq!(c.port, 443);
    }

    #[test]
    fn bad_targets_are_refused() {
        for bad in ["", "http://x:1", "https://x:0", "https://:5", "x:notaport"] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
