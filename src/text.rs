//! Small text helpers several parts need: hex for ids and fingerprints,
//! truncation of names from the network before they reach a log line, and
//! bytes from the network made safe to print.

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

/// `bytes` as text that is safe on a terminal and says what the bytes were:
/// UTF-8 text as it is, a backslash doubled, and a control character or a
/// byte that is not UTF-8 as `\xNN` (as `avahi-browse` shows TXT values).
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// What to do when a socket cannot be bound, by the kind of error.
pub fn bind_fix(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            "another process uses that port: stop it, or choose another port"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "that address is not on this machine: use [::] (every address) or one of its addresses"
        }
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges: choose a port above 1024"
        }
        _ => "check the address and port",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_failures_get_the_fix_of_their_kind() {
        let in_use = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        assert!(bind_fix(&in_use).contains("another process"));
        let elsewhere = std::io::Error::from(std::io::ErrorKind::AddrNotAvailable);
        assert!(bind_fix(&elsewhere).contains("not on this machine"));
    }

    #[test]
    fn bytes_from_the_network_print_safely() {
        assert_eq!(printable(b"plain=text"), "plain=text");
        assert_eq!(printable("é ✓".as_bytes()), "é ✓");
        assert_eq!(printable(b"a\x00b\xffc\n"), "a\\x00b\\xffc\\x0a");
        assert_eq!(printable(b"back\\slash"), "back\\\\slash");
    }

    #[test]
    fn hex_and_truncation() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(truncate(&"é".repeat(100)).chars().count(), QUOTED_CHARS);
        assert_eq!(truncate("short"), "short");
    }
}
