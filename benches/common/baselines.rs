//! The loopback benchmark's baselines, measured in the same run as pingpong:
//! a raw quinn echo over one bidirectional stream, a bare WebTransport session
//! with one echo, and a plain UDP echo.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pingpong::tls::{client_tls_config, server_tls_config, TlsMaterial};
use wtransport::quinn;

use crate::echo::{full_handshakes, serve_wt_sessions, timed_echoes, transport};

/// Bytes per echo message: a 56-byte ping payload plus pingpong's framing (~8).
const MESSAGE: usize = 64;

// ---------- raw quinn baseline ----------

/// A raw quinn mTLS echo server on loopback (each bidirectional stream echoes
/// what it reads), in this runtime; its address.
pub fn quinn_echo_server(server: &TlsMaterial) -> SocketAddr {
    let tls = server_tls_config(server).unwrap();
    let mut server_config = quinn::ServerConfig::with_crypto(Arc::new(
        quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap(),
    ));
    server_config.transport_config(transport());
    let endpoint = quinn::Endpoint::server(server_config, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = endpoint.local_addr().unwrap();
    tokio::spawn(async move {
        while let Some(incoming) = endpoint.accept().await {
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(Some(n)) = recv.read(&mut buf).await {
                            if send.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        }
    });
    addr
}

/// A raw quinn mTLS echo server and a client endpoint to reach it.
pub struct QuinnEcho {
    addr: SocketAddr,
    client: quinn::Endpoint,
    client_config: quinn::ClientConfig,
    resuming_config: quinn::ClientConfig,
}

fn quinn_client_config(tls: rustls::ClientConfig) -> quinn::ClientConfig {
    let mut config = quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap(),
    ));
    config.transport_config(transport());
    config
}

impl QuinnEcho {
    /// Starts the echo server on loopback with `server`'s certificate; the
    /// client presents `client`'s.
    pub fn start(server: &TlsMaterial, client: &TlsMaterial) -> Self {
        Self::client_for(quinn_echo_server(server), client)
    }

    /// A client of the echo server at `addr`, presenting `client`'s certificate.
    pub fn client_for(addr: SocketAddr, client: &TlsMaterial) -> Self {
        let tls = client_tls_config(client, None).unwrap();
        let client_config = quinn_client_config(full_handshakes(tls.clone()));
        let resuming_config = quinn_client_config(tls);
        let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        Self {
            addr,
            client,
            client_config,
            resuming_config,
        }
    }

    async fn connect(&self) -> quinn::Connection {
        self.connect_with(&self.client_config).await
    }

    async fn connect_with(&self, config: &quinn::ClientConfig) -> quinn::Connection {
        self.client
            .connect_with(config.clone(), self.addr, "localhost")
            .unwrap()
            .await
            .unwrap()
    }

    /// `count` sequential echoes of [`MESSAGE`] bytes on one connection, µs each.
    pub async fn rtts_us(&self, count: u64) -> Vec<f64> {
        let conn = self.connect().await;
        let (send, recv) = conn.open_bi().await.unwrap();
        let out = timed_echoes(send, recv, MESSAGE, count).await;
        conn.close(0u32.into(), b"");
        out
    }

    /// Echoes per second with `window` in flight.
    pub async fn pipelined_per_sec(&self, count: u64, window: u64) -> f64 {
        let conn = self.connect().await;
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        let msg = [0x5a; MESSAGE];
        let mut back = [0u8; MESSAGE];
        let t = Instant::now();
        let (mut sent, mut received) = (0u64, 0u64);
        while received < count {
            if sent < count && sent - received < window {
                send.write_all(&msg).await.unwrap();
                sent += 1;
            } else {
                recv.read_exact(&mut back).await.unwrap();
                received += 1;
            }
        }
        let rate = count as f64 / t.elapsed().as_secs_f64();
        conn.close(0u32.into(), b"");
        rate
    }

    /// Setups (handshake and one echo) per second of setting up, the close
    /// not timed and not waited for (waiting for the endpoint to go idle made
    /// the next setup slower, so not waiting is the baseline's advantage);
    /// `resume` lets every one but the first resume.
    pub async fn setups_per_sec(&self, count: usize, resume: bool) -> f64 {
        let config = if resume {
            let first = self.connect_with(&self.resuming_config).await;
            first.close(0u32.into(), b"");
            &self.resuming_config
        } else {
            &self.client_config
        };
        let mut setting_up = Duration::ZERO;
        for _ in 0..count {
            let t = Instant::now();
            let conn = self.connect_with(config).await;
            let (mut send, mut recv) = conn.open_bi().await.unwrap();
            let mut back = [0u8; MESSAGE];
            send.write_all(&[1; MESSAGE]).await.unwrap();
            recv.read_exact(&mut back).await.unwrap();
            setting_up += t.elapsed();
            conn.close(0u32.into(), b"");
        }
        count as f64 / setting_up.as_secs_f64()
    }
}

// ---------- raw wtransport baseline ----------

/// A bare WebTransport echo: what the HTTP/3 + CONNECT layer costs by itself,
/// to tell it apart from pingpong's own layers in (c).
pub struct WtEcho {
    url: String,
    client: wtransport::Endpoint<wtransport::endpoint::endpoint_side::Client>,
}

impl WtEcho {
    /// Starts the WebTransport echo on loopback, as [`QuinnEcho::start`].
    pub fn start(server: &TlsMaterial, client: &TlsMaterial) -> Self {
        let config = wtransport::ServerConfig::builder()
            .with_bind_address("127.0.0.1:0".parse().unwrap())
            .with_custom_tls(server_tls_config(server).unwrap())
            .build();
        let endpoint = wtransport::Endpoint::server(config).unwrap();
        let url = format!(
            "https://127.0.0.1:{}/echo",
            endpoint.local_addr().unwrap().port()
        );
        tokio::spawn(serve_wt_sessions(endpoint, |conn| async move {
            let Ok((mut send, mut recv)) = conn.accept_bi().await else {
                return;
            };
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(Some(n)) = recv.read(&mut buf).await {
                if send.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = conn.closed().await;
        }));
        let config = wtransport::ClientConfig::builder()
            .with_bind_default()
            .with_custom_tls(full_handshakes(client_tls_config(client, None).unwrap()))
            .build();
        Self {
            url,
            client: wtransport::Endpoint::client(config).unwrap(),
        }
    }

    /// `count` sequential echoes of [`MESSAGE`] bytes on one WebTransport
    /// stream, µs each: what the WebTransport layer adds to a round trip.
    pub async fn rtts_us(&self, count: u64) -> Vec<f64> {
        let conn = self.client.connect(&self.url).await.unwrap();
        let (send, recv) = conn.open_bi().await.unwrap().await.unwrap();
        let out = timed_echoes(send, recv, MESSAGE, count).await;
        conn.close(0u32.into(), b"");
        out
    }

    /// Full sessions (handshake, CONNECT, one echo) per second of setting up
    /// (the close is not timed).
    pub async fn setups_per_sec(&self, count: usize) -> f64 {
        let mut setting_up = Duration::ZERO;
        for _ in 0..count {
            let t = Instant::now();
            let conn = self.client.connect(&self.url).await.unwrap();
            let (mut send, mut recv) = conn.open_bi().await.unwrap().await.unwrap();
            send.write_all(&[1; MESSAGE]).await.unwrap();
            let mut back = [0u8; MESSAGE];
            recv.read_exact(&mut back).await.unwrap();
            setting_up += t.elapsed();
            conn.close(0u32.into(), b"");
        }
        count as f64 / setting_up.as_secs_f64()
    }
}

// ---------- plain UDP baseline ----------

/// `count` sequential echoes over plain UDP, µs each.
pub async fn udp_rtts_us(count: u64) -> Vec<f64> {
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let echo = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        loop {
            let Ok((n, from)) = server.recv_from(&mut buf).await else {
                return;
            };
            let _ = server.send_to(&buf[..n], from).await;
        }
    });
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(addr).await.unwrap();
    let msg = [0x5a; MESSAGE];
    let mut back = [0u8; 2048];
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let t = Instant::now();
        client.send(&msg).await.unwrap();
        client.recv(&mut back).await.unwrap();
        out.push(t.elapsed().as_secs_f64() * 1e6);
    }
    echo.abort();
    out
}
