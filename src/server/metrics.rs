//! Operations endpoint: `/healthz` (the process is alive), `/readyz` (it takes
//! sessions; 503 while draining) and `/metrics` (Prometheus text exposition),
//! served over plain HTTP on a separate TCP port (`--metrics ADDR`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hyper::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::discovery::register::registrar::StatusSink;
use crate::discovery::register::RegistrationStatus;
use crate::http_serve::metrics::MetricsEndpoint;

/// Label of a refused handshake or session.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// `tls`, `not_found`, `server_full`, `protocol`, `timeout`, `other`.
    pub reason: String,
}

/// Label set of `build_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabel {
    version: String,
}

/// The server's counters and gauges.
pub struct Metrics {
    registry: Registry,
    /// Sessions open now.
    pub sessions_open: Gauge,
    /// Sessions opened since start.
    pub sessions_total: Counter,
    /// Pings answered since start.
    pub pings_total: Counter,
    /// Returning clients' session tickets accepted since start.
    pub tls_tickets_accepted_total: Counter,
    /// Handshakes and sessions refused, by reason.
    pub refused_total: Family<ReasonLabel, Counter>,
    /// 1 while draining.
    pub draining: Gauge,
    /// Clients with an outbox.
    pub outbox_clients: Gauge,
    /// When the certificate in use expires, Unix seconds (alert on it).
    pub certificate_not_after: Gauge,
    ready: AtomicBool,
    /// With `--register-dns`: where the registration stands, for `/readyz`.
    registration: Arc<Mutex<Option<String>>>,
}

impl Default for Metrics {
    /// For a server with the default `--max-sessions`.
    fn default() -> Self {
        Self::new(super::config::DEFAULT_MAX_SESSIONS)
    }
}

impl Metrics {
    /// Registers every metric under the `pingpong` prefix, for a server that
    /// holds at most `max_sessions` sessions.
    pub fn new(max_sessions: usize) -> Self {
        let mut registry = Registry::with_prefix("pingpong");
        let sessions_open = Gauge::default();
        let sessions_max = Gauge::<i64>::default();
        sessions_max.set(i64::try_from(max_sessions).unwrap_or(i64::MAX));
        let sessions_total = Counter::default();
        let pings_total = Counter::default();
        let tls_tickets_accepted_total = Counter::default();
        let refused_total = Family::<ReasonLabel, Counter>::default();
        let draining = Gauge::default();
        let outbox_clients = Gauge::default();
        let certificate_not_after = Gauge::default();
        let build = Family::<BuildLabel, Gauge>::default();
        build
            .get_or_create(&BuildLabel {
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .set(1);
        registry.register("sessions_open", "Sessions open now", sessions_open.clone());
        registry.register(
            "sessions_max",
            "Sessions the server accepts at most (--max-sessions); more are refused as server_full",
            sessions_max,
        );
        registry.register(
            "sessions",
            "Sessions opened since start",
            sessions_total.clone(),
        );
        registry.register("pings", "Pings answered since start", pings_total.clone());
        registry.register(
            "tls_tickets_accepted",
            "Session tickets of returning clients accepted (valid, unexpired): their handshakes resume without a certificate exchange",
            tls_tickets_accepted_total.clone(),
        );
        registry.register(
            "refused",
            "Handshakes and sessions refused, by reason",
            refused_total.clone(),
        );
        registry.register("draining", "1 while the server drains", draining.clone());
        registry.register(
            "outbox_clients",
            "Clients with an outbox",
            outbox_clients.clone(),
        );
        registry.register(
            "certificate_not_after_seconds",
            "When the server certificate in use expires (Unix time)",
            certificate_not_after.clone(),
        );
        registry.register("build_info", "Build information", build);
        Self {
            registry,
            sessions_open,
            sessions_total,
            pings_total,
            tls_tickets_accepted_total,
            refused_total,
            draining,
            outbox_clients,
            certificate_not_after,
            ready: AtomicBool::new(true),
            registration: Arc::default(),
        }
    }

    /// Reports a wide-area registration: `pingpong_dns_registered` (1 while
    /// the records are in the zone) and a line of `/readyz`. Returns what
    /// the registrar calls with each change.
    pub fn track_registration(&mut self) -> StatusSink {
        let registered: Gauge = Gauge::default();
        self.registry.register(
            "dns_registered",
            "1 while the server's records are in its DNS zone (--register-dns), 0 while registering fails",
            registered.clone(),
        );
        let line = self.registration.clone();
        *line.lock().expect("registration lock") = Some("dns: registering\n".into());
        Box::new(move |status| {
            let text = match status {
                RegistrationStatus::Registering => "dns: registering\n".to_string(),
                RegistrationStatus::Registered { instance, zone } => {
                    format!("dns: registered as {instance:?} in {zone}\n")
                }
                RegistrationStatus::Failing { error } => format!("dns: not registered: {error}\n"),
            };
            registered.set(i64::from(matches!(
                status,
                RegistrationStatus::Registered { .. }
            )));
            *line.lock().expect("registration lock") = Some(text);
        })
    }

    /// `/readyz`'s extra lines.
    fn registration_line(&self) -> String {
        self.registration
            .lock()
            .expect("registration lock")
            .clone()
            .unwrap_or_default()
    }

    /// Counts a refusal.
    pub fn refused(&self, reason: &str) {
        self.refused_total
            .get_or_create(&ReasonLabel {
                reason: reason.into(),
            })
            .inc();
    }

    /// Records the end of validity of the certificate in `path` (nothing when
    /// it cannot be read: the TLS configuration already said so).
    pub fn set_certificate(&self, path: &std::path::Path) {
        if let Ok(info) = crate::tls::inspect::CertInfo::from_file(path) {
            self.certificate_not_after
                .set(info.not_after.unix_timestamp());
        }
    }

    /// Marks the server draining: `/readyz` answers 503 from now on.
    pub fn set_draining(&self) {
        self.ready.store(false, Ordering::Release);
        self.draining.set(1);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        crate::http_serve::metrics::encode(&self.registry)
    }
}

impl MetricsEndpoint for Metrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }

    /// `/healthz` (alive), `/readyz` (ready, or draining: 503), each with the
    /// DNS registration's state.
    fn answer(&self, path: &str) -> Option<(StatusCode, String)> {
        match path {
            "/healthz" => Some((StatusCode::OK, "ok\n".to_string())),
            "/readyz" if self.ready.load(Ordering::Acquire) => Some((
                StatusCode::OK,
                format!("ready\n{}", self.registration_line()),
            )),
            "/readyz" => Some((
                StatusCode::SERVICE_UNAVAILABLE,
                format!("draining\n{}", self.registration_line()),
            )),
            _ => None,
        }
    }
}
