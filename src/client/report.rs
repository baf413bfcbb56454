//! How a ping run is shown: ping(8)-style text lines, or one JSON object per line.

use std::net::SocketAddr;

use serde_json::{json, Value};

use super::{PingEvent, PingSummary, Welcome};
use crate::discovery::{Candidate, DiscoveryEvent, DnsSdDomain, Source};
use crate::tls::PeerIdentity;

/// What the header line describes.
pub struct SessionFacts<'a> {
    /// The URL connected to.
    pub url: &'a str,
    /// The address actually reached.
    pub remote: SocketAddr,
    /// How the server was found.
    pub source: Source,
    /// For DNS-SD: the domain browsed, and how it was known.
    pub browsed: Option<&'a DnsSdDomain>,
    /// The server's Welcome.
    pub welcome: &'a Welcome,
    /// The verified server certificate.
    pub server_identity: Option<&'a PeerIdentity>,
    /// Payload bytes per ping.
    pub payload_size: usize,
}

fn short_hex(bytes: &[u8]) -> String {
    crate::text::hex(&bytes[..bytes.len().min(4)])
}

fn state_name(welcome: &Welcome) -> &'static str {
    match welcome.state {
        crate::proto::ServerState::Serving => "serving",
        crate::proto::ServerState::Draining => "draining",
    }
}

/// The header line, as `PING host (addr): n data bytes`.
pub fn header_line(facts: &SessionFacts<'_>) -> String {
    let cert = facts
        .server_identity
        .map(|id| {
            format!(
                ", cert {} sha256:{}",
                id.display_name(),
                &id.fingerprint[..16]
            )
        })
        .unwrap_or_default();
    format!(
        "PINGPONG {} ({}) via {}: server {:?} id {} v{} {}{}, {} payload bytes",
        facts.url,
        facts.remote,
        source_text(facts.source, facts.browsed),
        facts.welcome.instance,
        short_hex(&facts.welcome.server_id),
        facts.welcome.version,
        state_name(facts.welcome),
        cert,
        facts.payload_size
    )
}

/// One line per event (none for a ping sent, as ping(8)).
pub fn event_line(event: &PingEvent, remote: SocketAddr) -> Option<String> {
    let mut out = Vec::new();
    write_event_line(&mut out, event, &remote.to_string()).then(|| {
        out.pop(); // the newline
        String::from_utf8_lossy(&out).into_owned()
    })
}

/// Appends [`event_line`]'s line and a newline to `out`, without allocating
/// (the client's per-ping path); `false` when the event has no line.
pub fn write_event_line(out: &mut Vec<u8>, event: &PingEvent, remote: &str) -> bool {
    use std::io::Write;
    let written = match event {
        PingEvent::Sent { .. } => return false,
        PingEvent::Pong { seq, rtt, bytes } => writeln!(
            out,
            "{bytes} bytes from {remote}: seq={seq} time={:.3} ms",
            rtt.as_secs_f64() * 1000.0
        ),
        PingEvent::Lost { seq } => writeln!(out, "no answer from {remote}: seq={seq} lost"),
        PingEvent::Duplicate { seq } => {
            writeln!(out, "duplicate pong from {remote}: seq={seq} (dropped)")
        }
        PingEvent::Late { seq } => {
            writeln!(
                out,
                "late pong from {remote}: seq={seq} (already counted lost)"
            )
        }
    };
    written.is_ok()
}

/// The closing statistics, as ping(8) prints them.
pub fn summary_lines(url: &str, summary: &PingSummary) -> Vec<String> {
    let mut lines = vec![
        format!("--- {url} pingpong statistics ---"),
        format!(
            "{} pings transmitted, {} received, {}% loss, {} duplicates, time {:.0}ms",
            summary.transmitted,
            summary.received,
            format_percent(summary.loss_percent()),
            summary.duplicates,
            summary.elapsed_ms
        ),
    ];
    if let Some(rtt) = &summary.rtt_ms {
        lines.push(format!(
            "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms, p50 {:.3} ms, p99 {:.3} ms",
            rtt.min, rtt.avg, rtt.max, rtt.mdev, rtt.p50, rtt.p99
        ));
    }
    if summary.reconnects > 0 || summary.hedged > 0 {
        lines.push(format!(
            "{} reconnects, {} failovers, {} hedged, longest outage {:.1} ms",
            summary.reconnects, summary.failovers, summary.hedged, summary.longest_outage_ms
        ));
    }
    lines
}

fn format_percent(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

/// The header as a JSON object.
pub fn header_json(facts: &SessionFacts<'_>) -> Value {
    json!({
        "event": "connected",
        "url": facts.url,
        "remote": facts.remote.to_string(),
        "source": facts.source.to_string(),
        "domain": facts.browsed.map(|b| &b.domain),
        "learnt": facts.browsed.map(|b| &b.learnt),
        "instance": facts.welcome.instance,
        "server_id": facts.welcome.server_id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "version": facts.welcome.version,
        "state": state_name(facts.welcome),
        "server_cert": facts.server_identity.map(|id| json!({
            "name": id.display_name(),
            "sans": id.sans,
            "sha256": id.fingerprint,
        })),
        "payload_bytes": facts.payload_size,
    })
}

/// An event as a JSON object (none for a ping sent: the pong says it all).
pub fn event_json(event: &PingEvent) -> Option<Value> {
    Some(match event {
        PingEvent::Sent { .. } => return None,
        PingEvent::Pong { seq, rtt, bytes } => json!({
            "event": "pong", "seq": seq, "time_ms": round_ms(rtt.as_secs_f64() * 1000.0), "bytes": bytes,
        }),
        PingEvent::Lost { seq } => json!({ "event": "lost", "seq": seq }),
        PingEvent::Duplicate { seq } => json!({ "event": "duplicate", "seq": seq }),
        PingEvent::Late { seq } => json!({ "event": "late", "seq": seq }),
    })
}

/// The summary as a JSON object.
pub fn summary_json(summary: &PingSummary) -> Value {
    let mut value = serde_json::to_value(summary).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("event".into(), "summary".into());
        map.insert("loss_percent".into(), summary.loss_percent().into());
    }
    round_numbers(&mut value);
    value
}

/// Milliseconds to a tenth of a microsecond: a round trip on loopback takes
/// about 15 µs, which a whole microsecond would blur by 7 % (the RTT
/// histogram keeps three significant digits); and no `0.24986799999999998`
/// in JSON.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 10_000.0).round() / 10_000.0
}

/// Every fractional number in `value`, [`round_ms`]-ed.
pub fn round_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(rounded) = n
                .as_f64()
                .and_then(|x| serde_json::Number::from_f64(round_ms(x)))
            {
                *n = rounded;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(round_numbers),
        Value::Object(map) => map.values_mut().for_each(round_numbers),
        _ => {}
    }
}

/// The `discover` table's column titles.
const COLUMNS: [&str; 7] = [
    "INSTANCE",
    "SOURCE",
    "ADDRESSES",
    "STATE",
    "VER",
    "ID",
    "CERT SHA-256",
];
/// The widths a watch line uses (a table sizes its columns to the content).
const LINE_WIDTHS: [usize; 7] = [24, 6, 40, 9, 3, 8, 0];

/// One line about a discovered server, for `discover --watch` (`+`/`-`/`=`
/// prefixed).
pub fn candidate_line(candidate: &Candidate) -> String {
    join_padded(&candidate_cells(candidate), &LINE_WIDTHS)
}

/// The `discover` table: a title row, then a row per server (with `extra`,
/// one more column per row, e.g. the probe result); each column as wide as
/// its widest cell.
pub fn candidate_table(candidates: &[Candidate], extra: Option<(&str, &[String])>) -> Vec<String> {
    let mut rows: Vec<Vec<String>> = vec![COLUMNS.iter().map(ToString::to_string).collect()];
    rows.extend(candidates.iter().map(|c| candidate_cells(c).to_vec()));
    if let Some((title, cells)) = extra {
        rows[0].push(title.to_string());
        for (row, cell) in rows[1..].iter_mut().zip(cells) {
            row.push(cell.clone());
        }
    }
    table(&rows)
}

/// Rows of cells (the first: titles) as aligned lines, columns two spaces
/// apart.
pub fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter().map(|row| join_padded(row, &widths)).collect()
}

/// Cells joined by two spaces, each padded to its width but the last.
/// `cells` joined two spaces apart, each but the last padded to its width in
/// `widths` (a watch line's fixed columns).
pub fn join_padded(cells: &[String], widths: &[usize]) -> String {
    let last = cells.len().saturating_sub(1);
    cells
        .iter()
        .enumerate()
        .map(|(i, cell)| match widths.get(i) {
            Some(&width) if i < last => format!("{cell:<width$}"),
            _ => cell.clone(),
        })
        .collect::<Vec<_>>()
        .join("  ")
}

/// A discovered server's cells, in [`COLUMNS`] order.
fn candidate_cells(candidate: &Candidate) -> [String; 7] {
    let addresses = candidate.addresses_text(",");
    let (state, version, id, fp) = match &candidate.txt {
        Some(t) => (
            state_text(t.state),
            format!("v{}", t.version),
            t.server_id.map_or_else(|| "-".into(), |id| short_hex(&id)),
            t.fingerprint
                .as_deref()
                .map_or_else(|| "-".into(), |f| f.chars().take(16).collect::<String>()),
        ),
        None => ("?", "?".into(), "-".into(), "-".into()),
    };
    [
        candidate.instance.clone(),
        source_text(candidate.source, candidate.browsed.as_deref()),
        addresses,
        state.to_string(),
        version,
        id,
        fp,
    ]
}

/// How a server was found, as shown: `mdns`, `dns`, `static`, or
/// `dns-sd DOMAIN`.
pub fn source_text(source: Source, browsed: Option<&DnsSdDomain>) -> String {
    match browsed {
        Some(browsed) => format!("{source} {}", browsed.domain),
        None => source.to_string(),
    }
}

/// A discovered server as a JSON object.
pub fn candidate_json(candidate: &Candidate) -> Value {
    json!({
        "instance": candidate.instance,
        "source": candidate.source.to_string(),
        "domain": candidate.browsed.as_deref().map(|b| &b.domain),
        "learnt": candidate.browsed.as_deref().map(|b| &b.learnt),
        "name": candidate.key,
        "host": candidate.host,
        "port": candidate.port,
        "path": candidate.path,
        "addresses": candidate.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "url": candidate.url(),
        "state": candidate.txt.as_ref().map(|t| state_text(t.state)),
        "version": candidate.txt.as_ref().map(|t| t.version),
        "server_id": candidate.txt.as_ref().and_then(|t| t.server_id).map(|id| crate::text::hex(&id)),
        "fingerprint": candidate.txt.as_ref().and_then(|t| t.fingerprint.clone()),
        "load": candidate.txt.as_ref().and_then(|t| t.load),
    })
}

/// A discovery event as a JSON object (watch mode).
pub fn discovery_event_json(event: &DiscoveryEvent, at: &str) -> Value {
    let mut value = candidate_json(event.candidate());
    if let Value::Object(map) = &mut value {
        let kind = match event {
            DiscoveryEvent::Added(_) => "added",
            DiscoveryEvent::Updated(_) => "updated",
            DiscoveryEvent::Removed(_, _) => "removed",
        };
        map.insert("event".into(), kind.into());
        map.insert("time".into(), at.into());
        if let DiscoveryEvent::Removed(_, reason) = event {
            map.insert("reason".into(), reason.as_str().into());
        }
    }
    value
}

/// The `+`, `=` or `-` of an event (avahi-browse's convention).
pub fn event_sign(event: &DiscoveryEvent) -> char {
    match event {
        DiscoveryEvent::Added(_) => '+',
        DiscoveryEvent::Updated(_) => '=',
        DiscoveryEvent::Removed(_, _) => '-',
    }
}

fn state_text(state: crate::proto::ServerState) -> &'static str {
    crate::discovery::txt::state_name(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::stats::RttSummary;
    use std::time::Duration;

    fn summary() -> PingSummary {
        PingSummary {
            transmitted: 3,
            received: 2,
            lost: 1,
            duplicates: 0,
            late: 0,
            reconnects: 1,
            failovers: 1,
            hedged: 3,
            longest_outage_ms: 130.26,
            rtt_ms: Some(RttSummary {
                min: 0.1,
                avg: 0.2,
                max: 0.3,
                mdev: 0.05,
                p50: 0.2,
                p99: 0.3,
            }),
            elapsed_ms: 2000.4,
        }
    }

    #[test]
    fn text_summary_reads_like_ping() {
        let lines = summary_lines("https://h:1/pingpong", &summary());
        assert_eq!(
            lines[1],
            "3 pings transmitted, 2 received, 33.3% loss, 0 duplicates, time 2000ms"
        );
        assert!(lines[2].starts_with("rtt min/avg/max/mdev = 0.100/0.200/0.300/0.050 ms"));
        assert_eq!(
            lines[3],
            "1 reconnects, 1 failovers, 3 hedged, longest outage 130.3 ms"
        );
    }

    #[test]
    fn pong_line() {
        let line = event_line(
            &PingEvent::Pong {
                seq: 4,
                rtt: Duration::from_micros(412),
                bytes: 56,
            },
            "127.0.0.1:4433".parse().unwrap(),
        );
        assert_eq!(
            line.as_deref(),
            Some("56 bytes from 127.0.0.1:4433: seq=4 time=0.412 ms")
        );
        let sent = event_line(
            &PingEvent::Sent { seq: 4 },
            "127.0.0.1:4433".parse().unwrap(),
        );
        assert_eq!(sent, None, "ping(8) prints nothing when a ping leaves");
    }

    #[test]
    fn json_summary_has_the_documented_fields() {
        let v = summary_json(&summary());
        for key in [
            "transmitted",
            "received",
            "lost",
            "duplicates",
            "reconnects",
            "failovers",
            "hedged",
        ] {
            assert!(v[key].is_u64(), "{key}");
        }
        for key in ["min", "avg", "max", "mdev", "p50", "p99"] {
            assert!(v["rtt_ms"][key].is_f64(), "{key}");
        }
        assert_eq!(v["event"], "summary");
    }

    fn discovered(instance: &str, address: &str) -> Candidate {
        Candidate {
            addresses: vec![address.parse().unwrap()],
            txt: None,
            ..Candidate::for_test(instance)
        }
    }

    #[test]
    fn the_table_sizes_its_columns_to_the_content() {
        let long = "a-server-with-a-rather-long-instance-name";
        let rows = candidate_table(
            &[
                discovered("web1", "10.0.0.1:4433"),
                discovered(long, "10.0.0.2:4433"),
            ],
            Some(("PROBE", &["ok 1.0 ms".to_string(), "timeout".to_string()])),
        );
        assert_eq!(rows.len(), 3);
        // Every column starts at the same place on every row.
        let at = |row: &str, what: &str| row.find(what).unwrap();
        assert_eq!(at(&rows[0], "SOURCE"), at(&rows[1], "mdns"));
        assert_eq!(at(&rows[1], "mdns"), at(&rows[2], "mdns"));
        assert_eq!(at(&rows[0], "PROBE"), at(&rows[1], "ok 1.0 ms"));
        assert_eq!(at(&rows[1], "ok 1.0 ms"), at(&rows[2], "timeout"));
        assert_eq!(at(&rows[0], "SOURCE"), long.len() + 2);
    }

    #[test]
    fn json_numbers_are_rounded_to_a_tenth_of_a_microsecond() {
        let mut value =
            serde_json::json!({"a": 0.24986799999999998, "b": [1.00000004, 2], "c": {"d": 3.5}});
        round_numbers(&mut value);
        assert_eq!(
            value.to_string(),
            r#"{"a":0.2499,"b":[1.0,2],"c":{"d":3.5}}"#
        );
        let pong = event_json(&PingEvent::Pong {
            seq: 1,
            rtt: Duration::from_nanos(412_345),
            bytes: 56,
        })
        .unwrap();
        assert_eq!(pong["time_ms"], 0.4123);
        assert_eq!(event_json(&PingEvent::Sent { seq: 1 }), None);
    }
}
