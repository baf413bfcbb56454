//! Small text helpers several parts need: hex for ids and fingerprints, and
//! truncation of names from the network before they reach a log line.

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Longest piece of a name from the network that a message quotes.
pub const QUOTED_CHARS: usize = 80;

/// At most [`QUOTED_CHARS`] characters of `s` (hostile input stays one line).
pub fn truncate(s: &str) -> String {
    s.chars().take(QUOTED_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_truncation() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(truncate(&"é".repeat(100)).chars().count(), QUOTED_CHARS);
        assert_eq!(truncate("short"), "short");
    }
}
