//! Scale: many concurrent idle mTLS sessions against one server process on
//! loopback, then one ping on each; next to the same number of raw quinn mTLS
//! connections (one stream echo each) against a quinn server process, measured
//! in the same run. Prints sessions established, pongs, server RSS, memory per
//! session and server CPU time.
//!
//! `cargo bench --bench scale` (10,000 sessions; `PINGPONG_BENCH_SESSIONS=N` to
//! change, `PINGPONG_BENCH_QUICK=1` for 1,000).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use pingpong::client::{Connector, PingOptions, PingRun};
use pingpong::tls::{
    client_tls_config, server_tls_config, store, CertPaths, LeafRole, TlsMaterial,
};
use tokio_util::sync::CancellationToken;
use wtransport::quinn;

const PINGPONG: &str = env!("CARGO_BIN_EXE_pingpong");
const QUINN_SERVER: &str = "PINGPONG_BENCH_QUINN_SERVER";
/// Handshakes in flight at once while establishing sessions.
const CONCURRENCY: usize = 64;

fn main() {
    if let Some(home) = std::env::var_os(QUINN_SERVER) {
        quinn_server(std::path::Path::new(&home));
        return;
    }
    let sessions: usize = std::env::var("PINGPONG_BENCH_SESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if std::env::var_os("PINGPONG_BENCH_QUICK").is_some() {
            1_000
        } else {
            10_000
        });
    let dir = tempfile::tempdir().unwrap();
    let paths = CertPaths::new(dir.path());
    store::init_single_host(&paths, "scale CA", 1).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let (server, port) = spawn_server(
        Command::new(PINGPONG).args([
            "server",
            "--no-mdns",
            "--listen",
            "127.0.0.1:0",
            "--max-sessions",
            &(sessions * 2).to_string(),
        ]),
        dir.path(),
    );
    let ours = runtime.block_on(pingpong_run(&paths, port, sessions, &server));
    drop(server);

    let (server, port) = spawn_server(
        Command::new(std::env::current_exe().unwrap()).env(QUINN_SERVER, dir.path()),
        dir.path(),
    );
    let raw = runtime.block_on(quinn_run(&paths, port, sessions, &server));
    drop(server);

    println!();
    println!("{sessions} concurrent mTLS sessions on loopback, one client process, 2 cores");
    println!("{:<28} {:>12} {:>12}", "", "pingpong", "raw quinn");
    println!(
        "{:<28} {:>12} {:>12}",
        "sessions established", ours.established, raw.established
    );
    println!(
        "{:<28} {:>12} {:>12}",
        "pings answered", ours.answered, raw.answered
    );
    println!(
        "{:<28} {:>9.1} s {:>9.1} s",
        "time to establish",
        ours.setup.as_secs_f64(),
        raw.setup.as_secs_f64()
    );
    println!(
        "{:<28} {:>9} MiB {:>9} MiB",
        "server RSS, idle sessions",
        ours.rss_kib / 1024,
        raw.rss_kib / 1024
    );
    println!(
        "{:<28} {:>9.1} KiB {:>9.1} KiB   ratio {:.2}x",
        "server memory per session",
        ours.per_session_kib(),
        raw.per_session_kib(),
        ours.per_session_kib() / raw.per_session_kib()
    );
    println!(
        "{:<28} {:>9.1} s {:>9.1} s",
        "server CPU time",
        ours.cpu.as_secs_f64(),
        raw.cpu.as_secs_f64()
    );
}

struct Figures {
    established: usize,
    answered: usize,
    setup: Duration,
    baseline_kib: u64,
    rss_kib: u64,
    cpu: Duration,
}

impl Figures {
    fn per_session_kib(&self) -> f64 {
        (self.rss_kib.saturating_sub(self.baseline_kib)) as f64 / self.established.max(1) as f64
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_server(command: &mut Command, home: &std::path::Path) -> (Server, u16) {
    let mut child = command
        .env("PINGPONG_HOME", home)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    (Server(child), port)
}

fn rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.0.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

fn cpu_time(server: &Server) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.0.id())).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

async fn pingpong_run(paths: &CertPaths, port: u16, sessions: usize, server: &Server) -> Figures {
    let baseline_kib = rss_kib(server);
    let connector = Arc::new(
        Connector::new(&TlsMaterial::from_dir(paths, LeafRole::Client), None)
            .unwrap()
            .with_connect_timeout(Duration::from_secs(30)),
    );
    let url = format!("https://127.0.0.1:{port}/pingpong");
    let started = Instant::now();
    let open: Vec<_> = stream::iter(0..sessions)
        .map(|_| {
            let connector = connector.clone();
            let url = url.clone();
            async move { connector.open(&url).await.ok() }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let setup = started.elapsed();
    let mut open: Vec<_> = open.into_iter().flatten().collect();
    let established = open.len();
    tokio::time::sleep(Duration::from_secs(1)).await; // let the server settle
    let rss = rss_kib(server);
    let options = PingOptions {
        count: Some(1),
        interval: Duration::ZERO,
        ..PingOptions::default()
    };
    let answered: usize = stream::iter(open.iter_mut())
        .map(|session| {
            let options = options.clone();
            async move {
                let mut run = PingRun::new(&options);
                let ok = session
                    .ping(&mut run, &CancellationToken::new(), |_| {})
                    .await
                    .is_ok();
                usize::from(ok && run.summary().received == 1)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .sum();
    let cpu = cpu_time(server);
    for session in open {
        session.close().await;
    }
    connector.shutdown().await;
    Figures {
        established,
        answered,
        setup,
        baseline_kib,
        rss_kib: rss,
        cpu,
    }
}

fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(pingpong::transport::KEEP_ALIVE_INTERVAL));
    t.max_idle_timeout(Some(Duration::from_secs(30).try_into().unwrap()));
    Arc::new(t)
}

async fn quinn_run(paths: &CertPaths, port: u16, sessions: usize, server: &Server) -> Figures {
    let baseline_kib = rss_kib(server);
    let tls = client_tls_config(&TlsMaterial::from_dir(paths, LeafRole::Client), None).unwrap();
    let mut config = quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap(),
    ));
    config.transport_config(transport());
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let started = Instant::now();
    let open: Vec<_> = stream::iter(0..sessions)
        .map(|_| {
            let endpoint = endpoint.clone();
            let config = config.clone();
            async move {
                let conn = endpoint
                    .connect_with(config, addr, "localhost")
                    .ok()?
                    .await
                    .ok()?;
                let streams = conn.open_bi().await.ok()?;
                Some((conn, streams))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let setup = started.elapsed();
    let mut open: Vec<_> = open.into_iter().flatten().collect();
    let established = open.len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = rss_kib(server);
    let answered: usize = stream::iter(open.iter_mut())
        .map(|(_, (send, recv))| async move {
            let mut back = [0u8; 64];
            let ok =
                send.write_all(&[1; 64]).await.is_ok() && recv.read_exact(&mut back).await.is_ok();
            usize::from(ok)
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .sum();
    let cpu = cpu_time(server);
    for (conn, _) in &open {
        conn.close(0u32.into(), b"");
    }
    Figures {
        established,
        answered,
        setup,
        baseline_kib,
        rss_kib: rss,
        cpu,
    }
}

/// The raw quinn echo server, in its own process so that its memory can be read.
fn quinn_server(home: &std::path::Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tls = server_tls_config(&TlsMaterial::from_dir(
            &CertPaths::new(home),
            LeafRole::Server,
        ))
        .unwrap();
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(
            quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap(),
        ));
        config.transport_config(transport());
        let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
        println!("quinn echo listening on {}", endpoint.local_addr().unwrap());
        while let Some(incoming) = endpoint.accept().await {
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 4096];
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
}
