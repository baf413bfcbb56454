//! Certificates and TLS: where the files live, how they are made, loaded and
//! turned into mutually-authenticated rustls configurations.
//!
//! - [`paths`]: the six PEM files of a deployment and where they live.
//! - [`generate`]: a CA and server/client leaves (rcgen), with the right EKUs and SANs.
//! - [`store`]: writing them (keys 0600, no silent overwrite) and the zero-config
//!   development CA.
//! - [`load`]: reading PEM files with errors that name the file.
//! - `material.rs`: the three files a peer needs ([`TlsMaterial`]), checked
//!   before use.
//! - [`config`]: TLS 1.3 rustls configs with ALPN `h3` on the ring provider.
//! - [`server_verifier`]: how a client checks a server: the CA always, the name
//!   unless the server was found over multicast DNS.
//! - [`resumption`]: session tickets for returning clients, expiring with the
//!   certificate.
//! - [`identity`]: who a peer certificate names, and its fingerprint.
//! - [`inspect`]: what a certificate file says, for people and safety checks.

pub mod config;
mod error;
pub mod generate;
pub mod identity;
pub mod inspect;
pub mod load;
mod material;
pub mod paths;
pub mod resumption;
pub mod server_verifier;
pub mod store;

pub use config::{
    client_tls_config, client_tls_config_for, client_tls_config_recording, server_tls_config,
    server_tls_config_allowing,
};
pub use error::TlsError;
pub use generate::{LeafRole, Pem};
pub use identity::{fingerprint_sha256, PeerIdentity};
pub use material::TlsMaterial;
pub use paths::{default_home, CertPaths};
pub use server_verifier::{Rejections, ServerIdentity};
