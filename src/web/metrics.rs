//! `pingpong web --metrics ADDR`: the agent's view of every monitored server as
//! Prometheus metrics — the client side of what each server's own `/metrics`
//! counts: pings sent and lost, sessions opened, the last round trip, and
//! whether a session is up. Plain HTTP on its own TCP port, like the server's
//! (`/metrics` only).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::model::MonitorEvent;
use crate::http_serve::metrics::MetricsEndpoint;

/// Which server a series is about.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerLabels {
    /// Its instance name.
    pub instance: String,
    /// Its discovery key (unique where instance names are not).
    pub key: String,
    /// Where it was found: `mdns`, `dns`, `dns-sd`, `static`.
    pub source: String,
}

/// The agent's counters and gauges, per server.
pub struct WebMetrics {
    registry: Registry,
    sent: Family<ServerLabels, Counter>,
    lost: Family<ServerLabels, Counter>,
    sessions: Family<ServerLabels, Counter>,
    rtt: Family<ServerLabels, Gauge<f64, AtomicU64>>,
    up: Family<ServerLabels, Gauge>,
}

impl Default for WebMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl WebMetrics {
    /// Registers every metric under the `pingpong_web` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("pingpong_web");
        let metrics = Self {
            sent: Family::default(),
            lost: Family::default(),
            sessions: Family::default(),
            rtt: Family::default(),
            up: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "pings_sent",
            "Pings sent to the server",
            metrics.sent.clone(),
        );
        registry.register(
            "pings_lost",
            "Pings the server never answered in time",
            metrics.lost.clone(),
        );
        registry.register(
            "sessions",
            "Sessions opened to the server (the first, then reconnections)",
            metrics.sessions.clone(),
        );
        registry.register(
            "rtt_seconds",
            "The last round trip to the server",
            metrics.rtt.clone(),
        );
        registry.register(
            "session_up",
            "1 while a session to the server is open",
            metrics.up.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts what a monitor reported about `server`.
    pub fn observe(&self, labels: &ServerLabels, event: &MonitorEvent) {
        match event {
            MonitorEvent::Connected { .. } => {
                self.sessions.get_or_create(labels).inc();
                self.up.get_or_create(labels).set(1);
            }
            MonitorEvent::Sent => {
                self.sent.get_or_create(labels).inc();
            }
            MonitorEvent::Pong { rtt_ms } => {
                self.rtt.get_or_create(labels).set(rtt_ms / 1000.0);
            }
            MonitorEvent::Lost => {
                self.lost.get_or_create(labels).inc();
            }
            MonitorEvent::Draining | MonitorEvent::Failed { .. } => {
                self.up.get_or_create(labels).set(0);
            }
        }
    }

    /// The server left discovery: its series go.
    pub fn forget(&self, labels: &ServerLabels) {
        self.sent.remove(labels);
        self.lost.remove(labels);
        self.sessions.remove(labels);
        self.rtt.remove(labels);
        self.up.remove(labels);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        crate::http_serve::metrics::encode(&self.registry)
    }
}

impl MetricsEndpoint for WebMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_become_series_per_server_and_leave_with_it() {
        let m = WebMetrics::new();
        let connected = MonitorEvent::Connected {
            address: "10.0.0.1:4433".into(),
            version: 1,
            fingerprint: None,
            state: crate::proto::ServerState::Serving,
        };
        let server = ServerLabels {
            instance: "alpha".into(),
            key: "k1".into(),
            source: "dns-sd".into(),
        };
        for event in [
            connected.clone(),
            MonitorEvent::Sent,
            MonitorEvent::Pong { rtt_ms: 1.5 },
            MonitorEvent::Sent,
            MonitorEvent::Lost,
            MonitorEvent::Failed {
                reason: "gone".into(),
            },
            connected,
        ] {
            m.observe(&server, &event);
        }
        let text = m.encode();
        let labels = r#"{instance="alpha",key="k1",source="dns-sd"}"#;
        for line in [
            format!("pingpong_web_pings_sent_total{labels} 2"),
            format!("pingpong_web_pings_lost_total{labels} 1"),
            format!("pingpong_web_sessions_total{labels} 2"),
            format!("pingpong_web_rtt_seconds{labels} 0.0015"),
            format!("pingpong_web_session_up{labels} 1"),
        ] {
            assert!(text.contains(&line), "{line} not in\n{text}");
        }
        m.forget(&server);
        assert!(!m.encode().contains("alpha"));
    }
}
