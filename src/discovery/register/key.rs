//! TSIG keys (RFC 8945) read from BIND's key file format, the one `tsig-keygen`
//! and `ddns-confgen` write and `named.conf` includes:
//!
//! ```text
//! key "pingpong" {
//!     algorithm hmac-sha256;
//!     secret "b64secret==";
//! };
//! ```
//!
//! Parsing is pure ([`TsigKey::parse`]); [`TsigKey::read`] adds the file and
//! its permissions.

use std::path::{Path, PathBuf};

use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, TSigner};

use super::RegisterError;

/// How far apart the server's clock and ours may be, in seconds: RFC 8945
/// §10 recommends 300, BIND uses 300. A larger skew is reported as BADTIME.
const FUDGE_SECONDS: u16 = 300;

/// A TSIG key: its name, algorithm and secret.
#[derive(Clone)]
pub struct TsigKey {
    /// The key's name, as the DNS server knows it.
    pub name: String,
    /// `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub algorithm: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// Reads the key in `path` (BIND format); warns when others may read it.
    pub fn read(path: &Path) -> Result<Self, RegisterError> {
        let text = std::fs::read_to_string(path).map_err(|error| RegisterError::KeyFile {
            path: path.to_path_buf(),
            reason: format!("cannot read it: {error}"),
        })?;
        warn_if_readable_by_others(path);
        Self::parse(&text).map_err(|reason| RegisterError::KeyFile {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses the first `key "NAME" { algorithm ALG; secret "BASE64"; };`
    /// clause of `text` (comments in `#`, `//` and `/* */` style allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = strip_comments(text);
        let start = text
            .find("key")
            .ok_or("no `key \"NAME\" { ... };` clause (make one with `tsig-keygen NAME`)")?;
        let rest = &text[start + 3..];
        let open = rest.find('{').ok_or("the key clause has no `{`")?;
        let name = rest[..open].trim().trim_matches('"').trim();
        if name.is_empty() {
            return Err("the key has no name".into());
        }
        let close = rest[open..]
            .find('}')
            .ok_or("the key clause has no closing `}`")?;
        let body = &rest[open + 1..open + close];
        let mut algorithm = None;
        let mut secret = None;
        for statement in body.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (keyword, value) = statement
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("cannot read `{statement}`"))?;
            let value = value.trim().trim_matches('"');
            match keyword {
                "algorithm" => algorithm = Some(value.to_ascii_lowercase()),
                "secret" => secret = Some(value.to_string()),
                other => return Err(format!("unknown statement `{other}` in the key clause")),
            }
        }
        let algorithm = algorithm.ok_or("the key has no `algorithm` (hmac-sha256)")?;
        if algorithm_of(&algorithm).is_none() {
            return Err(format!(
                "algorithm {algorithm} is not supported: use hmac-sha256, hmac-sha384 or hmac-sha512 (tsig-keygen -a hmac-sha256 NAME)"
            ));
        }
        let secret = secret.ok_or("the key has no `secret`")?;
        let secret = data_encoding::BASE64
            .decode(secret.as_bytes())
            .map_err(|e| format!("the secret is not base64: {e}"))?;
        if secret.is_empty() {
            return Err("the secret is empty".into());
        }
        Ok(Self {
            name: name.to_string(),
            algorithm,
            secret,
        })
    }

    /// The signer hickory attaches to update messages.
    pub fn signer(&self) -> Result<TSigner, RegisterError> {
        let bad = |reason: String| RegisterError::KeyFile {
            path: PathBuf::from(&self.name),
            reason,
        };
        let name = Name::from_utf8(&self.name)
            .map_err(|e| bad(format!("the key name is not a DNS name: {e}")))?;
        let algorithm = algorithm_of(&self.algorithm)
            .ok_or_else(|| bad(format!("algorithm {} is not supported", self.algorithm)))?;
        TSigner::new(self.secret.clone(), algorithm, name, FUDGE_SECONDS)
            .map_err(|e| bad(format!("cannot sign with this key: {e}")))
    }
}

/// The TSIG algorithms hickory can compute.
fn algorithm_of(name: &str) -> Option<TsigAlgorithm> {
    match name.trim_end_matches('.') {
        "hmac-sha256" => Some(TsigAlgorithm::HmacSha256),
        "hmac-sha384" => Some(TsigAlgorithm::HmacSha384),
        "hmac-sha512" => Some(TsigAlgorithm::HmacSha512),
        _ => None,
    }
}

/// `text` without `#`, `//` and `/* */` comments (BIND's three styles).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else if rest.starts_with('#') || rest.starts_with("//") {
            rest = rest.find('\n').map_or("", |end| &rest[end..]);
        } else if let Some(quoted) = rest.strip_prefix('"') {
            // Comment markers inside a quoted string are text.
            let end = quoted.find('"').map_or(quoted.len(), |e| e + 1);
            out.push('"');
            out.push_str(&quoted[..end]);
            rest = &quoted[end..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// A secret others can read is logged (not refused: a Kubernetes Secret mount
/// decides its own modes).
fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        if crate::platform::readable_by_others(&meta) {
            tracing::warn!(path = %path.display(), "the TSIG key file can be read by other users: chmod 600 it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYGEN: &str = "key \"pingpong\" {\n\talgorithm hmac-sha256;\n\tsecret \"3Yx/8ObGmOVs4ihcXBRAmtaTqkqHL3q8e16ReF4yqzs=\";\n};\n";

    #[test]
    fn reads_what_tsig_keygen_writes() {
        let key = TsigKey::parse(KEYGEN).unwrap();
        assert_eq!(key.name, "pingpong");
        assert_eq!(key.algorithm, "hmac-sha256");
        assert_eq!(key.secret.len(), 32);
        let signer = key.signer().unwrap();
        assert_eq!(signer.signer_name().to_string(), "pingpong.");
        assert_eq!(signer.fudge(), FUDGE_SECONDS);
    }

    #[test]
    fn comments_and_other_algorithms_are_read() {
        let text = "# made by hand\n/* a\n block */ key \"ddns-key.lab.test\" { // trailing\n algorithm HMAC-SHA512; secret \"AAECAwQ=\"; };";
        let key = TsigKey::parse(text).unwrap();
        assert_eq!(key.name, "ddns-key.lab.test");
        assert_eq!(key.algorithm, "hmac-sha512");
        assert_eq!(key.secret, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn comment_markers_inside_the_secret_are_base64() {
        // tsig-keygen's random secrets hold "//" about once in a hundred keys.
        let key =
            TsigKey::parse("key \"k\" { algorithm hmac-sha256; secret \"////\"; }; // a comment")
                .unwrap();
        assert_eq!(key.secret, vec![0xff, 0xff, 0xff]);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        for (text, says) in [
            ("", "no `key"),
            (
                "key \"k\" { algorithm hmac-md5; secret \"AAAA\"; };",
                "not supported",
            ),
            ("key \"k\" { algorithm hmac-sha256; };", "no `secret`"),
            ("key \"k\" { secret \"AAAA\"; };", "no `algorithm`"),
            (
                "key \"k\" { algorithm hmac-sha256; secret \"!!\"; };",
                "not base64",
            ),
            (
                "key \"k\" { algorithm hmac-sha256; secret \"AAAA\";",
                "closing",
            ),
            (
                "key { algorithm hmac-sha256; secret \"AAAA\"; };",
                "no name",
            ),
        ] {
            let error = TsigKey::parse(text).unwrap_err();
            assert!(error.contains(says), "{text:?}: {error}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let key = TsigKey::parse(KEYGEN).unwrap();
        assert!(!format!("{key:?}").contains("3Yx"));
    }
}
