//! Loopback benchmark: pingpong next to baselines measured in the same run.
//!
//! (a) sequential ping RTT on one session, against a raw quinn bidirectional-
//!     stream echo and a plain UDP echo;
//! (b) pipelined pings per second with 64 in flight, against raw quinn;
//! (c) mTLS session setups per second, full handshakes against a raw quinn
//!     mTLS handshake plus one stream round trip and (for context) a bare
//!     wtransport session plus one stream round trip, which shows what HTTP/3
//!     and the WebTransport CONNECT exchange cost by themselves; then resumed
//!     handshakes (TLS 1.3 tickets) against quinn resuming, and against
//!     pingpong's own full handshakes;
//! (d) the `pingpong` binary as users run it: `pingpong client` processes
//!     against a `pingpong server` process, sequential RTT and pipelined
//!     pings/s next to raw quinn and the library, and how soon `client -c 1`
//!     exits after its pong.
//!
//! Every figure is the median of several interleaved rounds, so that a noisy
//! neighbour hurts both sides alike. Run with `cargo bench --bench loopback`;
//! `PINGPONG_BENCH_QUICK=1` shortens every phase.

#[path = "common/binary.rs"]
mod binary;
#[path = "common/rtt.rs"]
mod rtt;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pingpong::client::{Connector, PingOptions};
use pingpong::server::{Server, ServerConfig};
use pingpong::tls::{
    client_tls_config, server_tls_config, store, CertPaths, LeafRole, TlsMaterial,
};
use rtt::{median, percentile, sequential_rtts_us};
use tokio_util::sync::CancellationToken;
use wtransport::quinn;

/// `client -c 1` runs per round: process start, one pong, exit.
const SINGLE_PINGS: usize = 5;

/// Bytes per echo message: a 56-byte ping payload plus pingpong's framing (~8).
const MESSAGE: usize = 64;

struct Sizes {
    rounds: usize,
    rtt_pings: u64,
    pipelined_pings: u64,
    setups: usize,
}

fn sizes() -> Sizes {
    if std::env::var_os("PINGPONG_BENCH_QUICK").is_some() {
        Sizes {
            rounds: 3,
            rtt_pings: 1_000,
            pipelined_pings: 20_000,
            setups: 50,
        }
    } else {
        Sizes {
            rounds: 5,
            rtt_pings: 5_000,
            pipelined_pings: 200_000,
            setups: 300,
        }
    }
}

fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(pingpong::transport::KEEP_ALIVE_INTERVAL));
    t.max_idle_timeout(Some(pingpong::transport::IDLE_TIMEOUT.try_into().unwrap()));
    Arc::new(t)
}

// ---------- raw quinn baseline ----------

struct QuinnEcho {
    addr: SocketAddr,
    client: quinn::Endpoint,
    client_config: quinn::ClientConfig,
    resuming_config: quinn::ClientConfig,
}

/// `tls` without session resumption: every handshake is a full one.
fn full_handshakes(mut tls: rustls::ClientConfig) -> rustls::ClientConfig {
    tls.resumption = rustls::client::Resumption::disabled();
    tls
}

fn quinn_client_config(tls: rustls::ClientConfig) -> quinn::ClientConfig {
    let mut config = quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap(),
    ));
    config.transport_config(transport());
    config
}

impl QuinnEcho {
    fn start(server: &TlsMaterial, client: &TlsMaterial) -> Self {
        let tls = server_tls_config(server).unwrap();
        let mut server_config = quinn::ServerConfig::with_crypto(Arc::new(
            quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap(),
        ));
        server_config.transport_config(transport());
        let endpoint =
            quinn::Endpoint::server(server_config, "127.0.0.1:0".parse().unwrap()).unwrap();
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

    async fn rtts_us(&self, count: u64) -> Vec<f64> {
        let conn = self.connect().await;
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        let msg = [0x5a; MESSAGE];
        let mut back = [0u8; MESSAGE];
        let mut out = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let t = Instant::now();
            send.write_all(&msg).await.unwrap();
            recv.read_exact(&mut back).await.unwrap();
            out.push(t.elapsed().as_secs_f64() * 1e6);
        }
        conn.close(0u32.into(), b"");
        out
    }

    async fn pipelined_per_sec(&self, count: u64, window: u64) -> f64 {
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

    /// Setups per second; `resume` lets every one but the first resume.
    async fn setups_per_sec(&self, count: usize, resume: bool) -> f64 {
        let config = if resume {
            let first = self.connect_with(&self.resuming_config).await;
            first.close(0u32.into(), b"");
            &self.resuming_config
        } else {
            &self.client_config
        };
        let t = Instant::now();
        for _ in 0..count {
            let conn = self.connect_with(config).await;
            let (mut send, mut recv) = conn.open_bi().await.unwrap();
            let mut back = [0u8; MESSAGE];
            send.write_all(&[1; MESSAGE]).await.unwrap();
            recv.read_exact(&mut back).await.unwrap();
            conn.close(0u32.into(), b"");
        }
        count as f64 / t.elapsed().as_secs_f64()
    }
}

// ---------- raw wtransport baseline ----------

/// A bare WebTransport echo: what the HTTP/3 + CONNECT layer costs by itself,
/// to tell it apart from pingpong's own layers in (c).
struct WtEcho {
    url: String,
    client: wtransport::Endpoint<wtransport::endpoint::endpoint_side::Client>,
}

impl WtEcho {
    fn start(server: &TlsMaterial, client: &TlsMaterial) -> Self {
        let config = wtransport::ServerConfig::builder()
            .with_bind_address("127.0.0.1:0".parse().unwrap())
            .with_custom_tls(server_tls_config(server).unwrap())
            .build();
        let endpoint = wtransport::Endpoint::server(config).unwrap();
        let url = format!(
            "https://127.0.0.1:{}/echo",
            endpoint.local_addr().unwrap().port()
        );
        tokio::spawn(async move {
            loop {
                let incoming = endpoint.accept().await;
                tokio::spawn(async move {
                    let Ok(request) = incoming.await else { return };
                    let Ok(conn) = request.accept().await else {
                        return;
                    };
                    let Ok((mut send, mut recv)) = conn.accept_bi().await else {
                        return;
                    };
                    let mut buf = [0u8; MESSAGE];
                    if recv.read_exact(&mut buf).await.is_ok() {
                        let _ = send.write_all(&buf).await;
                    }
                    let _ = conn.closed().await;
                });
            }
        });
        let config = wtransport::ClientConfig::builder()
            .with_bind_default()
            .with_custom_tls(full_handshakes(client_tls_config(client, None).unwrap()))
            .build();
        Self {
            url,
            client: wtransport::Endpoint::client(config).unwrap(),
        }
    }

    async fn setups_per_sec(&self, count: usize) -> f64 {
        let t = Instant::now();
        for _ in 0..count {
            let conn = self.client.connect(&self.url).await.unwrap();
            let (mut send, mut recv) = conn.open_bi().await.unwrap().await.unwrap();
            send.write_all(&[1; MESSAGE]).await.unwrap();
            let mut back = [0u8; MESSAGE];
            recv.read_exact(&mut back).await.unwrap();
            conn.close(0u32.into(), b"");
        }
        count as f64 / t.elapsed().as_secs_f64()
    }
}

// ---------- plain UDP baseline ----------

async fn udp_rtts_us(count: u64) -> Vec<f64> {
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

// ---------- pingpong ----------

async fn pingpong_pipelined_per_sec(connector: &Connector, url: &str, count: u64) -> f64 {
    let mut session = connector.open(url).await.expect("pingpong session setup");
    let options = PingOptions {
        count: Some(count),
        interval: Duration::ZERO,
        in_flight: 64,
        ..PingOptions::default()
    };
    let t = Instant::now();
    let mut run = pingpong::client::PingRun::new(&options);
    let result = session
        .ping(&mut run, &CancellationToken::new(), |_| {})
        .await;
    let rate = count as f64 / t.elapsed().as_secs_f64();
    assert!(
        result.is_ok() && run.summary().received == count,
        "{result:?}"
    );
    session.close().await;
    rate
}

async fn pingpong_setups_per_sec(connector: &Connector, url: &str, count: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..count {
        let session = connector.open(url).await.expect("pingpong session setup");
        session.close().await;
    }
    count as f64 / t.elapsed().as_secs_f64()
}

fn row(name: &str, ours: f64, base_name: &str, base: f64, unit: &str, target: &str) {
    println!("{name:<34} {ours:>12.1} {unit:<8} {base_name:<6} {base:>12.1} {unit:<8} {:>6.2}x  {target}", ours / base);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes = sizes();
    let dir = tempfile::tempdir().unwrap();
    let paths = CertPaths::new(dir.path());
    store::init_single_host(&paths, "bench CA", 30).unwrap();
    let server_material = TlsMaterial::from_dir(&paths, LeafRole::Server);
    let client_material = TlsMaterial::from_dir(&paths, LeafRole::Client);

    let mut config = ServerConfig::new(server_material.clone());
    config.listen = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(config).unwrap();
    let url = format!("https://127.0.0.1:{}/pingpong", server.local_addr().port());
    let shutdown = CancellationToken::new();
    let server_task = tokio::spawn(server.run(shutdown.clone()));
    let connector = Connector::new(&client_material, None).unwrap();
    let full_connector = Connector::from_rustls(full_handshakes(
        client_tls_config(&client_material, None).unwrap(),
    ))
    .unwrap();
    let quinn = QuinnEcho::start(&server_material, &client_material);
    let wt = WtEcho::start(&server_material, &client_material);
    let (_server_process, process_url) = binary::start_server(dir.path());

    let (mut ours_p50, mut ours_p99, mut quinn_p50, mut quinn_p99, mut udp_p50) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut ours_rate, mut quinn_rate, mut ours_setup, mut quinn_setup) =
        (vec![], vec![], vec![], vec![]);
    let mut wt_setup = vec![];
    let (mut resumed_setup, mut quinn_resumed_setup) = (vec![], vec![]);
    let (mut bin_p50, mut bin_p99, mut bin_rate) = (vec![], vec![], vec![]);
    let (mut bin_first_pong, mut bin_exit) = (vec![], vec![]);
    // Warm-up: first handshakes and allocations.
    let _ = sequential_rtts_us(&connector, &url, 200).await;
    let _ = quinn.rtts_us(200).await;
    for _ in 0..sizes.rounds {
        let mut s = sequential_rtts_us(&connector, &url, sizes.rtt_pings).await;
        s.sort_by(f64::total_cmp);
        ours_p50.push(percentile(&s, 50.0));
        ours_p99.push(percentile(&s, 99.0));
        let mut s = quinn.rtts_us(sizes.rtt_pings).await;
        s.sort_by(f64::total_cmp);
        quinn_p50.push(percentile(&s, 50.0));
        quinn_p99.push(percentile(&s, 99.0));
        let mut s = udp_rtts_us(sizes.rtt_pings).await;
        s.sort_by(f64::total_cmp);
        udp_p50.push(percentile(&s, 50.0));

        ours_rate.push(pingpong_pipelined_per_sec(&connector, &url, sizes.pipelined_pings).await);
        quinn_rate.push(quinn.pipelined_per_sec(sizes.pipelined_pings, 64).await);

        ours_setup.push(pingpong_setups_per_sec(&full_connector, &url, sizes.setups).await);
        quinn_setup.push(quinn.setups_per_sec(sizes.setups, false).await);
        wt_setup.push(wt.setups_per_sec(sizes.setups).await);
        resumed_setup.push(pingpong_setups_per_sec(&connector, &url, sizes.setups).await);
        quinn_resumed_setup.push(quinn.setups_per_sec(sizes.setups, true).await);

        let home = dir.path();
        let (p50, p99) = binary::sequential_us(home, &process_url, sizes.rtt_pings);
        bin_p50.push(p50);
        bin_p99.push(p99);
        bin_rate.push(binary::pipelined_per_sec(
            home,
            &process_url,
            sizes.pipelined_pings,
        ));
        for _ in 0..SINGLE_PINGS {
            let (pong, exit) = binary::single_ping_ms(home, &process_url);
            bin_first_pong.push(pong);
            bin_exit.push(exit);
        }
    }

    println!();
    println!(
        "pingpong loopback benchmark: median of {} rounds, {} cores",
        sizes.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<34} {:>21} {:>28} {:>7}  target",
        "", "pingpong", "baseline", "ratio"
    );
    row(
        "(a) sequential RTT p50",
        median(ours_p50.clone()),
        "quinn",
        median(quinn_p50.clone()),
        "us",
        "<= 1.10x",
    );
    row(
        "(a) sequential RTT p99",
        median(ours_p99.clone()),
        "quinn",
        median(quinn_p99.clone()),
        "us",
        "<= 1.10x",
    );
    row(
        "(a) sequential RTT p50",
        median(ours_p50.clone()),
        "udp",
        median(udp_p50),
        "us",
        "(context)",
    );
    row(
        "(b) pipelined pings, 64 in flight",
        median(ours_rate.clone()),
        "quinn",
        median(quinn_rate.clone()),
        "/s",
        ">= 0.90x",
    );
    row(
        "(c) mTLS session setups, full",
        median(ours_setup.clone()),
        "quinn",
        median(quinn_setup),
        "/s",
        ">= 0.80x",
    );
    row(
        "(c) mTLS session setups, full",
        median(ours_setup.clone()),
        "wt",
        median(wt_setup),
        "/s",
        "(context: bare WebTransport + 1 echo)",
    );
    row(
        "(c) mTLS session setups, resumed",
        median(resumed_setup.clone()),
        "quinn",
        median(quinn_resumed_setup),
        "/s",
        "(quinn resuming too)",
    );
    row(
        "(c) setups: resumed vs full",
        median(resumed_setup),
        "full",
        median(ours_setup),
        "/s",
        "(what a ticket saves)",
    );
    row(
        "(d) binary: sequential RTT p50",
        median(bin_p50.clone()),
        "quinn",
        median(quinn_p50.clone()),
        "us",
        "<= 1.10x",
    );
    row(
        "(d) binary: sequential RTT p99",
        median(bin_p99),
        "quinn",
        median(quinn_p99.clone()),
        "us",
        "(context)",
    );
    row(
        "(d) binary: sequential RTT p50",
        median(bin_p50),
        "lib",
        median(ours_p50.clone()),
        "us",
        "(binary vs library)",
    );
    row(
        "(d) binary: pipelined, 64 in flight",
        median(bin_rate.clone()),
        "quinn",
        median(quinn_rate.clone()),
        "/s",
        ">= 0.90x",
    );
    row(
        "(d) binary: pipelined, 64 in flight",
        median(bin_rate),
        "lib",
        median(ours_rate.clone()),
        "/s",
        "(binary vs library)",
    );
    println!(
        "{:<34} {:>12.1} ms to its pong, {:.1} ms from pong to exit (target <= 15 ms), median of {}",
        "(d) binary: client -c 1",
        median(bin_first_pong),
        median(bin_exit),
        SINGLE_PINGS * sizes.rounds
    );

    shutdown.cancel();
    let _ = server_task.await;
}
