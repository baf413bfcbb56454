//! The server's QUIC endpoint: the bind (dual-stack `[::]` with an IPv4
//! fallback, or one address), and the transport settings of every connection.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};

use tracing::warn;
use wtransport::config::Ipv6DualStackConfig;
use wtransport::endpoint::endpoint_side;
use wtransport::Endpoint;

use super::ServerError;
use crate::transport::{IDLE_TIMEOUT, KEEP_ALIVE_INTERVAL};

/// Binds the endpoint to `listen`.
pub(super) fn bind(
    listen: SocketAddr,
    tls: rustls::ServerConfig,
) -> Result<Endpoint<endpoint_side::Server>, ServerError> {
    let bind_error = |addr, error| ServerError::Bind { addr, error };
    match listen {
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => {
            let dual = wt_config(
                wtransport::ServerConfig::builder()
                    .with_bind_address_v6(v6, Ipv6DualStackConfig::Allow)
                    .with_custom_tls_and_transport(tls.clone(), quic_transport()),
            );
            match Endpoint::server(dual) {
                Ok(endpoint) => Ok(endpoint),
                Err(error) => {
                    let v4 = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), v6.port());
                    warn!(%error, "IPv6 unavailable, listening on {v4}");
                    let config = wt_config(
                        wtransport::ServerConfig::builder()
                            .with_bind_address(v4)
                            .with_custom_tls_and_transport(tls, quic_transport()),
                    );
                    Endpoint::server(config).map_err(|e| bind_error(v4, e))
                }
            }
        }
        addr => {
            let builder = match addr {
                SocketAddr::V6(v6) => wtransport::ServerConfig::builder().with_bind_address_v6(
                    SocketAddrV6::new(*v6.ip(), v6.port(), 0, v6.scope_id()),
                    Ipv6DualStackConfig::Deny,
                ),
                SocketAddr::V4(_) => wtransport::ServerConfig::builder().with_bind_address(addr),
            };
            Endpoint::server(wt_config(
                builder.with_custom_tls_and_transport(tls, quic_transport()),
            ))
            .map_err(|e| bind_error(addr, e))
        }
    }
}

/// QUIC settings of every server connection: the timers of
/// [`crate::transport`], and stream limits. The protocol needs one bidirectional
/// stream for the WebTransport CONNECT and one for the control stream; HTTP/3
/// needs three unidirectional ones from the client (control, QPACK encoder and
/// decoder). A peer that opens more is held back by QUIC flow control rather
/// than costing the server memory.
pub(super) fn quic_transport() -> wtransport::quinn::TransportConfig {
    let mut transport = wtransport::quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(MAX_BIDI_STREAMS.into())
        .max_concurrent_uni_streams(MAX_UNI_STREAMS.into());
    transport
}

/// Bidirectional streams a client may have open: CONNECT + control stream.
const MAX_BIDI_STREAMS: u32 = 2;
/// Unidirectional streams a client may have open: the three of HTTP/3.
const MAX_UNI_STREAMS: u32 = 3;

/// The timers of [`crate::transport`] on a server configuration.
pub(super) fn wt_config(
    builder: wtransport::config::ServerConfigBuilder<
        wtransport::config::states::WantsTransportConfigServer,
    >,
) -> wtransport::ServerConfig {
    builder
        .keep_alive_interval(Some(KEEP_ALIVE_INTERVAL))
        .max_idle_timeout(Some(IDLE_TIMEOUT))
        .expect("IDLE_TIMEOUT fits a QUIC varint")
        .build()
}
