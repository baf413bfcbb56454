//! Property tests over the parsers that read network input besides frames
//! (those are in proto_roundtrip.rs): TXT records and RFC 2782 choice. Whatever
//! the bytes, they return a value or an error, never panic, and what they
//! accept stays within the documented bounds.

use pingpong::discovery::dns::parse_txt_string;
use pingpong::discovery::srv::{order, pick, SrvInfo};
use pingpong::discovery::txt::{MAX_PATH_LEN, MAX_VALUE_LEN};
use pingpong::discovery::ServerTxt;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashMap;

proptest! {
    #[test]
    fn txt_strings_split_at_the_first_equals(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (key, value) = parse_txt_string(&bytes);
        prop_assert_eq!(key.clone(), key.to_ascii_lowercase());
        prop_assert!(!key.contains('='));
        // Printable: no control character reaches a terminal, a byte shows
        // as at most `\xNN`.
        prop_assert!(!key.chars().chain(value.chars()).any(char::is_control));
        prop_assert!(key.len() + value.len() <= 4 * bytes.len());
        // Text needing no escape comes back as it was, split at the first `=`.
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if !text.contains('\\') && !text.chars().any(char::is_control) {
                let (k, v) = text.split_once('=').unwrap_or((text, ""));
                prop_assert_eq!(key, k.to_ascii_lowercase());
                prop_assert_eq!(value, v);
            }
        }
    }

    #[test]
    fn server_txt_is_accepted_exactly_when_every_value_is_within_its_bounds(
        record in txt_record()
    ) {
        let parsed = ServerTxt::parse(|key| record.get(key).map(String::as_str));
        prop_assert_eq!(parsed.is_ok(), acceptable(&record), "{:?} -> {:?}", record, parsed);
        if let Ok(txt) = parsed {
            prop_assert!(txt.path.starts_with('/') && txt.path.len() <= MAX_PATH_LEN);
            prop_assert!(txt.load.is_none_or(|l| l <= 1000));
            prop_assert!(txt.fingerprint.as_ref().is_none_or(|f| (8..=64).contains(&f.len())));
            let path = record.get("path").map_or("/pingpong", String::as_str);
            prop_assert_eq!(txt.path.as_str(), path);
        }
    }

    #[test]
    fn rfc2782_order_is_a_permutation_by_priority(
        records in proptest::collection::vec((0u16..4, any::<u16>()), 0..20),
        seed in any::<u64>()
    ) {
        let infos: Vec<SrvInfo> = records.iter().map(|&(priority, weight)| SrvInfo { priority, weight }).collect();
        let mut rng = StdRng::seed_from_u64(seed);
        let ordered = order(&infos, |s| *s, &mut rng);
        // A permutation: the same records, each once...
        let key = |s: &SrvInfo| (s.priority, s.weight);
        let mut given: Vec<_> = infos.iter().map(key).collect();
        let mut got: Vec<_> = ordered.iter().map(key).collect();
        given.sort_unstable();
        got.sort_unstable();
        prop_assert_eq!(given, got);
        // ...lowest priority first.
        prop_assert!(ordered.windows(2).all(|w| w[0].priority <= w[1].priority));
        // The first pick is from the lowest priority and, when that tier has
        // a weighted record, never a zero-weight one (RFC 2782).
        match (pick(&infos, |s| *s, &mut rng), infos.iter().map(|s| s.priority).min()) {
            (Some(i), Some(best)) => {
                prop_assert_eq!(infos[i].priority, best);
                let weighted = infos.iter().any(|s| s.priority == best && s.weight > 0);
                prop_assert!(!weighted || infos[i].weight > 0, "{:?} picked from {:?}", infos[i], infos);
            }
            (None, None) => {}
            (picked, best) => prop_assert!(false, "picked {:?} with lowest priority {:?}", picked, best),
        }
    }
}

/// The keys of pingpong's TXT record, and one the parser ignores.
const KEYS: [&str; 7] = ["v", "id", "path", "state", "fp", "load", "other"];

/// A value for `key`: well-formed three times in four, anything otherwise
/// (and, for `id`, hex-like text with signs, which `from_str_radix` accepts).
fn value_for(key: &'static str) -> BoxedStrategy<String> {
    let valid: BoxedStrategy<String> = match key {
        "v" => any::<u16>().prop_map(|n| n.to_string()).boxed(),
        "id" => prop_oneof!["[0-9a-fA-F]{32}", "[0-9a-f+]{32}"].boxed(),
        "path" => "/[!-~]{0,70}".boxed(),
        "state" => prop_oneof![Just("serving".to_string()), Just("draining".to_string())].boxed(),
        "fp" => "[0-9a-fA-F]{6,66}".boxed(),
        "load" => (0u16..=1100).prop_map(|n| n.to_string()).boxed(),
        _ => ".{0,20}".boxed(),
    };
    prop_oneof![3 => valid, 1 => ".{0,140}"].boxed()
}

/// A TXT record: each key present four times in five.
fn txt_record() -> impl Strategy<Value = HashMap<String, String>> {
    KEYS.iter()
        .map(|key| proptest::option::weighted(0.8, value_for(key)).prop_map(move |v| (*key, v)))
        .collect::<Vec<_>>()
        .prop_map(|pairs| {
            pairs
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect()
        })
}

/// The rules of docs/discovery.md's TXT table, written out independently.
fn acceptable(record: &HashMap<String, String>) -> bool {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    let get = |k: &str| record.get(k).map(String::as_str);
    // Unknown keys are ignored (and bounded where raw pairs are kept).
    KEYS.iter()
        .filter(|k| **k != "other")
        .filter_map(|k| get(k))
        .all(|v| v.len() <= MAX_VALUE_LEN)
        && get("v").is_some_and(|v| v.parse::<u16>().is_ok())
        && get("id").is_none_or(|id| id.len() == 32 && hex(id))
        && get("path").is_none_or(|p| {
            p.len() <= MAX_PATH_LEN && p.starts_with('/') && p.bytes().all(|b| b.is_ascii_graphic())
        })
        && get("state").is_none_or(|s| s == "serving" || s == "draining")
        && get("fp").is_none_or(|f| (8..=64).contains(&f.len()) && hex(f))
        && get("load").is_none_or(|l| l.parse::<u16>().is_ok_and(|n| n <= 1000))
}
