//! Wide-area registration: a server publishes its DNS-SD records (RFC 6763)
//! in a zone of an ordinary authoritative DNS server by dynamic update (RFC
//! 2136) signed with TSIG (RFC 8945), so that clients on other subnets and
//! sites find it with `--dns-sd ZONE`.
//!
//! - [`key`]: TSIG keys read from BIND's key file format.
//! - [`records`]: what one server registers and the update messages that
//!   claim, rewrite and remove it, with the ownership rule; pure.
//! - [`naming`]: the SRV target host and the addresses to register; pure.
//! - [`prune`]: listing a zone's instances and deleting dead ones.
//! - `exchange`: one message to the primary and its answer, codes kept.
//! - `primary`: which server takes the zone's updates.
//! - [`registrar`]: the lifecycle — register, rename on conflict, heal,
//!   follow TXT and address changes, back off on failure, remove on stop.
//! - `options.rs`: how a server registers itself, and the zone name's check.
//! - `round.rs`: one round's decisions (claim, rewrite, reread, rename,
//!   retry), pure, beside the registrar that asks the zone.
//! - `error.rs`: why a registration failed, each cause with its fix.

mod error;
pub mod key;
pub mod naming;
mod options;
pub mod prune;
pub mod records;
pub mod registrar;
mod round;

mod exchange;
mod primary;

pub use error::RegisterError;
pub use key::TsigKey;
pub use options::{
    zone_name, RegistrationOptions, DEFAULT_REFRESH, DEFAULT_TTL, MAX_ZONE_WIRE_LEN,
};
pub use primary::find_primary;
pub use registrar::{Registrar, RegistrationStatus};
pub use round::Identity;
