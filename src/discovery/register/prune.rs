//! Pruning a zone (`pingpong dns prune`): a crashed server's records stay in
//! the zone until it returns; its owner lists the instances straight from
//! the primary (no cache), probes them as a client would, and deletes those
//! that fail, each with the TXT it read as prerequisite (so a server that
//! re-registered meanwhile is left alone).

use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, RecordType, TSigner};

use super::exchange::{self, Failure};
use super::records::{self, browse_name, Registration};
use super::RegisterError;
use crate::discovery::dns::resolver::MAX_BROWSE_INSTANCES;
use crate::discovery::srv::SrvInfo;
use crate::discovery::txt::parse_txt_string;
use crate::discovery::txt::ServerTxt;
use crate::discovery::{Candidate, Source};

/// One instance as the zone holds it.
#[derive(Debug, Clone)]
pub struct ZoneInstance {
    /// `<instance>._pingpong._udp.ZONE`.
    pub name: Name,
    /// The instance label, as text.
    pub instance: String,
    /// Its TXT strings, exactly as stored.
    pub txt: Vec<Vec<u8>>,
    /// Its SRV record (the first one), if any.
    pub srv: Option<SRV>,
    /// The SRV target's addresses.
    pub addresses: Vec<IpAddr>,
}

impl ZoneInstance {
    /// A candidate to probe, when the records say where the server is.
    pub fn candidate(&self) -> Option<Candidate> {
        let srv = self.srv.as_ref()?;
        if self.addresses.is_empty() || srv.port == 0 {
            return None;
        }
        let pairs: Vec<(String, String)> = self.txt.iter().map(|s| parse_txt_string(s)).collect();
        let txt = ServerTxt::parse(|key| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        })
        .ok();
        let host = srv.target.to_string().trim_end_matches('.').to_string();
        Some(Candidate {
            key: format!("dns:{host}:{}", srv.port),
            instance: self.instance.clone(),
            host,
            addresses: self
                .addresses
                .iter()
                .map(|ip| SocketAddr::new(*ip, srv.port))
                .collect(),
            port: srv.port,
            path: txt.as_ref().map_or_else(
                || crate::service::DEFAULT_PATH.to_string(),
                |t| t.path.clone(),
            ),
            source: Source::DnsSd,
            txt,
            txt_pairs: pairs,
            srv: Some(SrvInfo {
                priority: srv.priority,
                weight: srv.weight,
            }),
            browsed: None,
        })
    }
}

/// Every instance of `_pingpong._udp.ZONE`, asked of `server` directly.
pub async fn list(server: SocketAddr, zone: &Name) -> Result<Vec<ZoneInstance>, RegisterError> {
    let shown = zone.to_string();
    let error = |f: Failure| f.into_error(server, &shown, "");
    let pointers = exchange::query(server, &browse_name(zone), RecordType::PTR)
        .await
        .map_err(error)?;
    let mut out = Vec::new();
    for record in pointers.iter().take(MAX_BROWSE_INSTANCES) {
        let RData::PTR(ptr) = &record.data else {
            continue;
        };
        let name = ptr.0.clone();
        let txt = exchange::query(server, &name, RecordType::TXT)
            .await
            .map_err(error)?
            .iter()
            .find_map(|r| match &r.data {
                RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
                _ => None,
            })
            .unwrap_or_default();
        let srv = exchange::query(server, &name, RecordType::SRV)
            .await
            .map_err(error)?
            .iter()
            .find_map(|r| match &r.data {
                RData::SRV(srv) => Some(srv.clone()),
                _ => None,
            });
        let mut addresses = Vec::new();
        if let Some(srv) = &srv {
            for kind in [RecordType::A, RecordType::AAAA] {
                for r in exchange::query(server, &srv.target, kind)
                    .await
                    .map_err(error)?
                {
                    match r.data {
                        RData::A(a) => addresses.push(IpAddr::V4(a.0)),
                        RData::AAAA(a) => addresses.push(IpAddr::V6(a.0)),
                        _ => {}
                    }
                }
            }
        }
        out.push(ZoneInstance {
            instance: crate::discovery::dns::records::instance_of(&name),
            name,
            txt,
            srv,
            addresses,
        });
    }
    Ok(out)
}

/// Deletes `stale` from `zone` if its TXT is still what was read: its PTR,
/// every record at its name, and its host's addresses unless another
/// instance of `all` still points at that host. `Ok(false)`: it changed
/// meanwhile (re-registered) and was left alone.
pub async fn delete(
    server: SocketAddr,
    zone: &Name,
    signer: &TSigner,
    stale: &ZoneInstance,
    all: &[ZoneInstance],
) -> Result<bool, RegisterError> {
    let host = stale.srv.as_ref().map(|s| s.target.clone());
    let shared = host.as_ref().is_some_and(|host| {
        all.iter().any(|other| {
            other.name != stale.name && other.srv.as_ref().is_some_and(|s| s.target == *host)
        })
    });
    let registration = Registration {
        zone: zone.clone(),
        service: records::pingpong_service(),
        instance: stale.instance.clone(),
        host: host.unwrap_or_else(|| stale.name.clone()),
        port: 0,
        priority: 0,
        weight: 0,
        txt: Vec::new(),
        addresses: if shared {
            Vec::new()
        } else {
            stale.addresses.clone()
        },
        ttl: 0,
    };
    let message = registration
        .remove(&stale.txt)
        .map_err(|reason| RegisterError::BadName {
            zone: zone.to_string(),
            reason,
        })?;
    match exchange::exchange(server, message, Some(signer)).await {
        Ok(_) => Ok(true),
        Err(Failure::Refused {
            code: hickory_proto::op::ResponseCode::NXRRSet,
            tsig: None,
            ..
        }) => Ok(false),
        Err(failure) => Err(failure.into_error(
            server,
            &zone.to_string(),
            signer.signer_name().to_utf8().trim_end_matches('.'),
        )),
    }
}
