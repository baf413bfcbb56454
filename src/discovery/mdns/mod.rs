//! mDNS (RFC 6762) / DNS-SD (RFC 6763) over multicast, with `mdns-sd`. The parts:
//! - [`advertise`]: a server publishes itself, follows address changes and renames;
//! - [`addresses`]: which addresses it publishes (the ones it answers on);
//! - [`browse`]: a client browses, and turns resolved services into candidates;
//! - [`oneshot`]: a legacy-unicast query at browse start, for a fast first answer;
//! - [`observer`]: listens to the link's queries, answers and goodbyes;
//! - [`liveness`]: what to reconfirm after a failure seen here or heard, and
//!   why a service left;
//! - [`refresh`]: when to refresh the listed records, once for the whole link;
//! - [`resolved`]: a resolved service, validated and bounded into a candidate;
//! - [`records`]: per-record bookkeeping between mdns-sd's events and ours;
//! - [`types`]: which service types are on the link (RFC 6763 §9);
//! - `daemon.rs`: the mdns-sd daemon on the interfaces asked for;
//! - `names.rs`: service types, instance labels, limits on what is accepted.
//!
//! Where it may run: the mdns-sd daemon joins the multicast groups on every
//! interface that is up, so tests run it only inside network namespaces they
//! create.

pub mod addresses;
pub mod advertise;
pub mod browse;
mod daemon;
pub mod liveness;
mod names;
pub mod observer;
pub mod oneshot;
pub mod records;
pub mod refresh;
pub mod resolved;
pub mod types;

pub use advertise::{Advertisement, Advertiser};
pub use browse::Browser;
pub(crate) use daemon::{daemon, mdns_error};
pub(crate) use names::instance_label;
pub use names::{
    check_service_type, main_type, raw_pairs, MAX_HOST_LEN, MAX_INSTANCE_LEN, MAX_TXT_PAIRS,
};

pub use crate::service::SERVICE_TYPE;
