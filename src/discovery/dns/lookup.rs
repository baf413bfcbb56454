//! What a query resolves to: SRV records, one DNS-SD domain, or every browse
//! domain the network announces.

use super::{DnsLookupError, DnsQuery, DnsResolver, Resolution};

impl DnsResolver {
    /// Resolves `query` into candidates, in no particular order (the connector
    /// applies RFC 2782).
    pub async fn resolve(&self, query: &DnsQuery) -> Result<Resolution, DnsLookupError> {
        match query {
            DnsQuery::Srv(name) => self.resolve_srv(name, None).await,
            DnsQuery::Browse(name) => self.resolve_browse(name).await,
            DnsQuery::Learnt => Ok(self.resolve_learnt().await),
        }
    }
}
