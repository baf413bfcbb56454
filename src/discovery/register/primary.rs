//! Which DNS server takes a zone's updates: the one the operator named
//! (`--register-server`), or the zone's primary, the MNAME of its SOA (RFC
//! 2136 §4), found through the system resolver.

use std::net::SocketAddr;

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;

use super::RegisterError;

/// The DNS port updates go to when only an address is given.
pub const DNS_PORT: u16 = 53;

/// The primary of `zone`, asked of the system resolver.
pub async fn find_primary(zone: &Name) -> Result<SocketAddr, RegisterError> {
    let not_found = |reason: String| RegisterError::ZoneNotFound {
        zone: zone.to_string(),
        reason,
    };
    let resolver = TokioResolver::builder_tokio()
        .map_err(|e| not_found(format!("cannot read the system DNS configuration: {e}")))?
        .build()
        .map_err(|e| not_found(e.to_string()))?;
    let soa = match resolver.lookup(zone.clone(), RecordType::SOA).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .find_map(|record| match &record.data {
                RData::SOA(soa) if record.name == *zone => Some(soa.mname.clone()),
                _ => None,
            }),
        Err(NetError::Dns(DnsError::NoRecordsFound(no)))
            if no.response_code == ResponseCode::NXDomain =>
        {
            return Err(not_found("the name does not exist (NXDOMAIN)".into()));
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(_))) => None,
        Err(error) => return Err(not_found(format!("the SOA lookup failed: {error}"))),
    };
    let mname = soa.ok_or_else(|| {
        not_found(
            "it has no SOA record of its own: it is not a zone apex (give the zone itself, or --register-server)"
                .into(),
        )
    })?;
    let ip = resolver
        .lookup_ip(mname.clone())
        .await
        .map_err(|e| not_found(format!("its primary {mname} has no address: {e}")))?
        .iter()
        .next()
        .ok_or_else(|| not_found(format!("its primary {mname} has no address")))?;
    Ok(SocketAddr::new(ip, DNS_PORT))
}
