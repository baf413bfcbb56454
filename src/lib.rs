//! pingpong: zero-config peer discovery, with a mutually-authenticated
//! WebTransport ping-pong service as its workload.
//!
//! The parts, in the order data flows through them:
//!
//! - [`discovery`]: where servers come from ([`discovery::Candidate`]).
//! - [`client`]: connect with mTLS, Hello/Welcome, ping, summarise.
//! - [`server`]: accept sessions, answer pings.
//! - [`proto`]: the wire protocol, pure (no I/O).
//! - [`framed`]: protocol frames over any async byte stream.
//! - [`tls`]: certificates and rustls configurations.
//! - [`transport`]: QUIC timing shared by both sides.
//! - [`shutdown`]: signals to cancellation.
//! - [`http_serve`]: the serve loop of the small HTTP endpoints.
//! - [`service`]: the names both sides share (service type, port, path).
//! - [`text`]: hex and truncation for ids and names from the network.
//! - [`deadline`]: sleeping until a deadline that may not exist.
//! - [`web`]: the `pingpong web` agent and its browser dashboard.
//!
//! # Embedding
//!
//! A server and a client in one program (see `examples/` for complete ones):
//!
//! ```no_run
//! use std::time::Duration;
//! use pingpong::client::{Connector, PingOptions, PingRun};
//! use pingpong::server::{Server, ServerConfig};
//! use pingpong::tls::{store, CertPaths, LeafRole, TlsMaterial};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let pki = CertPaths::new("/tmp/pki");
//! store::init_single_host(&pki, "my CA", 30)?;
//! let mut config = ServerConfig::new(TlsMaterial::from_dir(&pki, LeafRole::Server));
//! config.listen = "127.0.0.1:0".parse()?;
//! let server = Server::bind(config)?;
//! let url = format!("https://localhost:{}/pingpong", server.local_addr().port());
//! let shutdown = CancellationToken::new(); // cancel() drains the server
//! tokio::spawn(server.run(shutdown.clone()));
//!
//! let connector = Connector::new(&TlsMaterial::from_dir(&pki, LeafRole::Client), None)?;
//! let mut session = connector.open(&url).await?;
//! let mut run = PingRun::new(&PingOptions { count: Some(3), interval: Duration::from_millis(10), ..Default::default() });
//! session.ping(&mut run, &CancellationToken::new(), |event| println!("{event:?}")).await?;
//! assert_eq!(run.summary().received, 3);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod backoff;
pub mod client;
pub mod deadline;
pub mod discovery;
pub mod framed;
pub mod http_serve;
pub mod platform;
pub mod proto;
pub mod quic_close;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod text;
pub mod tls;
pub mod transport;
pub mod web;
