//! The ways a server is published, started from its configuration: the mDNS
//! advertisement and the registration in a DNS zone, each a
//! [`Publisher`] (`discovery/publisher.rs`). Adding one is a file in
//! `discovery/` implementing the trait and a line in [`start`].

use std::net::SocketAddr;

use super::config::ServerConfig;
use super::error::ServerError;
use super::metrics::Metrics;
use super::session::ServerInfo;
use crate::discovery::mdns::{Advertisement, Advertiser};
use crate::discovery::publisher::Publisher;
use crate::discovery::register::records::{Owner, PINGPONG_SERVICE};
use crate::discovery::register::{Identity, Registrar};
use crate::discovery::ServerTxt;

/// What a server publishes about itself.
pub(super) struct Facts<'a> {
    /// Who it is.
    pub(super) info: &'a ServerInfo,
    /// Where it listens.
    pub(super) local_addr: SocketAddr,
    /// Its TXT record.
    pub(super) txt: &'a ServerTxt,
    /// Its certificate's fingerprint.
    pub(super) fingerprint: &'a str,
}

/// The started publishers, and the full mDNS name when advertising.
pub(super) struct Started {
    /// Every publisher, in the order they started.
    pub(super) publishers: Vec<Box<dyn Publisher>>,
    /// `<instance>._pingpong._udp.local.`, when advertising over mDNS.
    pub(super) mdns_name: Option<String>,
}

/// Starts every publisher `config` asks for.
pub(super) fn start(
    config: &ServerConfig,
    facts: &Facts<'_>,
    metrics: &mut Metrics,
) -> Result<Started, ServerError> {
    let mut started = Started {
        publishers: Vec::new(),
        mdns_name: None,
    };
    if let Some(mdns) = &config.mdns {
        let advertiser = Advertiser::start(&Advertisement {
            service_type: mdns.service_type.clone(),
            instance: facts.info.instance.clone(),
            listen: facts.local_addr,
            txt: facts.txt.to_pairs(),
            interfaces: mdns.interfaces.clone(),
        })?;
        started.mdns_name = Some(advertiser.fullname());
        started.publishers.push(Box::new(advertiser));
    }
    if let Some(options) = &config.register {
        let status = metrics.track_registration();
        let cert = crate::tls::inspect::CertInfo::from_file(&config.tls.cert)?;
        let identity = Identity {
            instance: facts.info.instance.clone(),
            service: PINGPONG_SERVICE.to_string(),
            owner: Owner::Server {
                server_id: crate::text::hex(&facts.info.server_id),
                fingerprint: facts.fingerprint.to_string(),
            },
            cert_names: std::iter::once(cert.subject).chain(cert.sans).collect(),
        };
        started.publishers.push(Box::new(Registrar::start(
            options.clone(),
            identity,
            facts.local_addr,
            facts.txt.to_pairs(),
            status,
        )?));
    }
    Ok(started)
}
