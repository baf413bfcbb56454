//! How `discover --type` shows services of any type: per service its
//! instance, source, host, port and addresses, and its TXT as `key=value`
//! (values from the network are made printable when discovered, so binary
//! bytes show as `\xNN`); as an aligned table, a watch line, or JSON.

use pingpong::client::report;
use pingpong::discovery::{Candidate, DiscoveryEvent};
use serde_json::{json, Value};

/// The table's column titles.
const COLUMNS: [&str; 5] = ["INSTANCE", "SOURCE", "HOST", "ADDRESSES", "TXT"];
/// The widths a watch line uses (a table sizes its columns to the content).
const LINE_WIDTHS: [usize; 5] = [24, 6, 20, 40, 0];

/// The TXT pairs as `key=value` words; a pair with a space or a quote is
/// quoted, with its quotes and backslashes escaped.
fn txt_text(candidate: &Candidate) -> String {
    let words: Vec<String> = candidate
        .txt_pairs
        .iter()
        .map(|(key, value)| {
            let pair = format!("{key}={value}");
            if pair.contains([' ', '"']) {
                format!("\"{}\"", pair.replace('"', "\\\""))
            } else {
                pair
            }
        })
        .collect();
    words.join(" ")
}

fn cells(candidate: &Candidate) -> [String; 5] {
    let addresses: Vec<String> = candidate
        .addresses
        .iter()
        .map(ToString::to_string)
        .collect();
    [
        candidate.instance.clone(),
        report::source_text(candidate.source, candidate.browsed.as_deref()),
        candidate.host.clone(),
        addresses.join(","),
        txt_text(candidate),
    ]
}

/// The snapshot: a title row, then a row per service.
pub(crate) fn table(candidates: &[Candidate]) -> Vec<String> {
    let mut rows: Vec<Vec<String>> = vec![COLUMNS.iter().map(ToString::to_string).collect()];
    rows.extend(candidates.iter().map(|c| cells(c).to_vec()));
    report::table(&rows)
}

/// One service on one line, for `--watch` (fixed widths).
pub(crate) fn line(candidate: &Candidate) -> String {
    report::join_padded(&cells(candidate), &LINE_WIDTHS)
}

/// One service as a JSON object; `txt` keeps the pairs in record order.
pub(crate) fn json(candidate: &Candidate, service_type: &str) -> Value {
    json!({
        "instance": candidate.instance,
        "type": service_type,
        "source": candidate.source.to_string(),
        "domain": candidate.browsed.as_deref().map(|b| &b.domain),
        "name": candidate.key,
        "host": candidate.host,
        "port": candidate.port,
        "addresses": candidate.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "txt": candidate.txt_pairs.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
    })
}

/// A watch event as a JSON object.
pub(crate) fn event_json(event: &DiscoveryEvent, service_type: &str, at: &str) -> Value {
    let mut value = json(event.candidate(), service_type);
    let kind = match event {
        DiscoveryEvent::Added(_) => "added",
        DiscoveryEvent::Updated(_) => "updated",
        DiscoveryEvent::Removed(_, _) => "removed",
    };
    value["event"] = kind.into();
    value["time"] = at.into();
    if let DiscoveryEvent::Removed(_, reason) = event {
        value["reason"] = reason.as_str().into();
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer() -> Candidate {
        Candidate {
            key: "Office Printer. 2nd floor._http._tcp.local.".into(),
            instance: "Office Printer. 2nd floor".into(),
            host: "printer.local".into(),
            addresses: vec!["192.0.2.7:631".parse().unwrap()],
            port: 631,
            path: "/".into(),
            source: pingpong::discovery::Source::Mdns,
            txt: None,
            txt_pairs: vec![
                ("path".into(), "/a=b".into()),
                ("note".into(), "two words".into()),
                ("bin".into(), "\\x00\\xff".into()),
            ],
            srv: None,
            browsed: None,
        }
    }

    #[test]
    fn txt_pairs_show_as_key_value_words_quoted_when_they_hold_a_space() {
        assert_eq!(
            txt_text(&printer()),
            "path=/a=b \"note=two words\" bin=\\x00\\xff"
        );
    }

    #[test]
    fn a_service_shows_its_instance_host_and_txt_in_every_form() {
        let c = printer();
        let rows = table(std::slice::from_ref(&c));
        assert!(rows[0].starts_with("INSTANCE"), "{rows:?}");
        assert!(rows[1].starts_with("Office Printer. 2nd floor"), "{rows:?}");
        assert!(line(&c).contains("printer.local"));
        let value = json(&c, "_http._tcp.local.");
        assert_eq!(value["txt"][0], json!(["path", "/a=b"]));
        assert_eq!(value["type"], "_http._tcp.local.");
    }
}
