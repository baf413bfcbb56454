//! Property tests over the parsers that read network input besides frames
//! (those are in proto_roundtrip.rs): TXT records and RFC 2782 choice. Whatever
//! the bytes, they return a value or an error, never panic, and what they
//! accept stays within the documented bounds.

use pingpong::discovery::dns::parse_txt_string;
use pingpong::discovery::srv::{order, pick, SrvInfo};
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
        prop_assert!(key.len() + value.len() <= String::from_utf8_lossy(&bytes).len());
    }

    #[test]
    fn server_txt_accepts_only_bounded_values(
        pairs in proptest::collection::vec(("[a-zA-Z]{1,6}", ".{0,200}"), 0..12)
    ) {
        let map: HashMap<String, String> = pairs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        if let Ok(txt) = ServerTxt::parse(|key| map.get(key).map(String::as_str)) {
            prop_assert!(txt.path.starts_with('/') && txt.path.len() <= 64);
            prop_assert!(txt.load.is_none_or(|l| l <= 1000));
            prop_assert!(txt.fingerprint.as_ref().is_none_or(|f| f.len() <= 64));
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
        prop_assert_eq!(ordered.len(), infos.len());
        prop_assert!(ordered.windows(2).all(|w| w[0].priority <= w[1].priority));
        if let Some(i) = pick(&infos, |s| *s, &mut rng) {
            prop_assert!(i < infos.len());
        }
    }
}
