//! Who may use the agent: a random token made at every start (printed in the
//! URL, as Jupyter does), loopback peers only unless `--allow-remote`, and
//! only requests addressed to the agent's own address.

use std::net::{IpAddr, SocketAddr};

/// The agent's access rules.
pub struct Access {
    token: String,
    listen: SocketAddr,
    allow_remote: bool,
}

impl Access {
    /// Rules for an agent at `listen`, with a fresh random token.
    pub fn new(listen: SocketAddr, allow_remote: bool) -> Self {
        let bytes: [u8; 16] = rand::random();
        Self {
            token: crate::text::hex(&bytes),
            listen,
            allow_remote,
        }
    }

    /// The token (32 hex digits).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether `candidate` is the token, compared in constant time.
    pub fn token_matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.token.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Whether a query string (`a=b&token=...`) carries the token.
    pub fn token_in_query(&self, query: &str) -> bool {
        query
            .split('&')
            .filter_map(|pair| pair.strip_prefix("token="))
            .any(|value| self.token_matches(value))
    }

    /// Whether a peer at `ip` may connect.
    pub fn peer_allowed(&self, ip: IpAddr) -> bool {
        self.allow_remote || ip.to_canonical().is_loopback()
    }

    /// Whether an HTTP `Host` (or WebTransport authority) names this agent:
    /// its listen address, or `localhost`, with its port.
    pub fn host_allowed(&self, host: &str) -> bool {
        let port = self.listen.port();
        // "name:port", "[v6]:port", or a bare name (port 80, which browsers omit).
        let (name, host_port) = match host.rsplit_once(':') {
            Some((name, p)) if !name.is_empty() && (!name.contains(':') || name.ends_with(']')) => {
                (name, p.parse::<u16>().ok())
            }
            _ => (host, Some(80)),
        };
        if host_port != Some(port) {
            return false;
        }
        let name = name.trim_start_matches('[').trim_end_matches(']');
        if name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) if self.listen.ip().is_unspecified() => self.allow_remote || ip.is_loopback(),
            Ok(ip) => ip == self.listen.ip() || ip.is_loopback() && self.listen.ip().is_loopback(),
            Err(_) => false,
        }
    }

    /// The URL to open.
    pub fn page_url(&self, shown: SocketAddr) -> String {
        format!("http://{shown}/?token={}", self.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_random_and_checked_exactly() {
        let a = Access::new("127.0.0.1:8080".parse().unwrap(), false);
        let b = Access::new("127.0.0.1:8080".parse().unwrap(), false);
        assert_ne!(a.token(), b.token());
        assert_eq!(a.token().len(), 32);
        assert!(a.token_matches(a.token()));
        assert!(!a.token_matches(b.token()));
        assert!(!a.token_matches(&a.token()[..31]));
        assert!(a.token_in_query(&format!("x=1&token={}", a.token())));
        assert!(!a.token_in_query("token="));
    }

    #[test]
    fn loopback_only_unless_allowed() {
        let local = Access::new("127.0.0.1:8080".parse().unwrap(), false);
        assert!(local.peer_allowed("127.0.0.1".parse().unwrap()));
        assert!(local.peer_allowed("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!local.peer_allowed("192.0.2.1".parse().unwrap()));
        let open = Access::new("0.0.0.0:8080".parse().unwrap(), true);
        assert!(open.peer_allowed("192.0.2.1".parse().unwrap()));
        assert!(open.host_allowed("192.0.2.7:8080"));
    }

    #[test]
    fn hosts_must_name_the_agent() {
        let a = Access::new("127.0.0.1:8080".parse().unwrap(), false);
        assert!(a.host_allowed("127.0.0.1:8080"));
        assert!(a.host_allowed("localhost:8080"));
        assert!(a.host_allowed("[::1]:8080"));
        assert!(!a.host_allowed("127.0.0.1:8081"));
        assert!(!a.host_allowed("attacker.example:8080"));
        assert!(!a.host_allowed("127.0.0.1"));
        // Browsers leave out port 80.
        let on_80 = Access::new("127.0.0.1:80".parse().unwrap(), false);
        assert!(on_80.host_allowed("127.0.0.1"));
        assert!(on_80.host_allowed("localhost"));
        assert!(on_80.host_allowed("127.0.0.1:80"));
        assert!(!on_80.host_allowed("127.0.0.1:8080"));
    }
}
