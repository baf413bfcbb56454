//! Version negotiation: `Hello.version` is the highest the client speaks.

/// Lowest protocol version this implementation speaks.
pub const MIN_VERSION: u16 = 1;
/// Highest protocol version this implementation speaks.
pub const MAX_VERSION: u16 = 1;

/// The version a server uses for a client whose highest version is `client_max`,
/// or `None` when there is no version both speak.
pub fn negotiate_version(client_max: u16) -> Option<u16> {
    let chosen = client_max.min(MAX_VERSION);
    (chosen >= MIN_VERSION).then_some(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_common_version() {
        assert_eq!(negotiate_version(1), Some(1));
        assert_eq!(negotiate_version(7), Some(MAX_VERSION));
    }

    #[test]
    fn rejects_versions_below_the_minimum() {
        assert_eq!(negotiate_version(0), None);
    }
}
