//! Scale: many concurrent idle mTLS sessions against one server process on
//! loopback, held by several client processes (at lower priority: they stand
//! in for other machines), then one ping on each; next to the same number of
//! bare WebTransport sessions against a wtransport echo server (what
//! WebTransport itself costs) and of raw quinn mTLS connections against a
//! quinn echo server (the limit), one stream echo each, measured in the same
//! run. Prints sessions
//! established, handshakes retried (a lost one is tried again, up to three
//! times, as a real client would), pongs, server RSS, memory per session and
//! server CPU time.
//!
//! `cargo bench --bench scale` (10,000 sessions; `PINGPONG_BENCH_SESSIONS=N` to
//! change, `PINGPONG_BENCH_QUICK=1` for 1,000).

// Linux only (network namespaces, perf, /proc, CPU pinning): on other
// systems the crate is empty and only builds (README, "What is tested where").
#![cfg_attr(not(unix), no_main)]
#![cfg(unix)]

#[path = "common/echo.rs"]
mod echo;
#[path = "common/process.rs"]
mod process;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use echo::{full_handshakes, serve_wt_sessions, transport};
use futures::stream::{self, StreamExt};
use pingpong::client::{Connector, PingOptions, PingRun};
use pingpong::tls::{
    client_tls_config, server_tls_config, store, CertPaths, LeafRole, TlsMaterial,
};
use process::{cores, cpu_time, order, report, rss_kib, spawn_server, Server, Worker};
use tokio_util::sync::CancellationToken;
use wtransport::quinn;

const PINGPONG: &str = env!("CARGO_BIN_EXE_pingpong");
const QUINN_SERVER: &str = "PINGPONG_BENCH_QUINN_SERVER";
const WT_SERVER: &str = "PINGPONG_BENCH_WT_SERVER";
/// Handshakes in flight at once per client process while establishing sessions
/// (four processes: 64 in all).
const CONCURRENCY: usize = 16;
/// Client processes holding the sessions (each with its share).
const CLIENT_PROCESSES: usize = 4;
/// Attempts per session: a handshake lost on a saturated machine is tried
/// again (and counted), as a real client would.
const ATTEMPTS: usize = 3;
/// Niceness of the client processes (see `worker`).
const CLIENT_NICENESS: libc::c_int = 10;
/// Set in a worker process: which client it runs (`pingpong`, `wtransport` or
/// `quinn`).
const WORKER: &str = "PINGPONG_BENCH_SCALE_WORKER";
const WORKER_HOME: &str = "PINGPONG_BENCH_SCALE_HOME";
const WORKER_PORT: &str = "PINGPONG_BENCH_SCALE_PORT";
const WORKER_SESSIONS: &str = "PINGPONG_BENCH_SCALE_SESSIONS";

fn main() {
    if let Some(home) = std::env::var_os(QUINN_SERVER) {
        quinn_server(std::path::Path::new(&home));
        return;
    }
    if let Some(home) = std::env::var_os(WT_SERVER) {
        wt_server(std::path::Path::new(&home));
        return;
    }
    if let Ok(kind) = std::env::var(WORKER) {
        worker(&kind);
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
    store::init_single_host(&paths, "scale CA", 30).unwrap();
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
    let ours = measure("pingpong", dir.path(), port, sessions, &server);
    drop(server);

    let (server, port) = spawn_server(
        Command::new(std::env::current_exe().unwrap()).env(WT_SERVER, dir.path()),
        dir.path(),
    );
    let bare = measure("wtransport", dir.path(), port, sessions, &server);
    drop(server);

    let (server, port) = spawn_server(
        Command::new(std::env::current_exe().unwrap()).env(QUINN_SERVER, dir.path()),
        dir.path(),
    );
    let raw = measure("quinn", dir.path(), port, sessions, &server);
    drop(server);

    println!();
    println!(
        "{sessions} concurrent mTLS sessions on loopback, {CLIENT_PROCESSES} client processes, {} cores",
        cores()
    );
    println!(
        "{:<28} {:>12} {:>12} {:>12}   pingpong / bare wt, / raw quinn",
        "", "pingpong", "bare wt", "raw quinn"
    );
    let sides = [&ours, &bare, &raw];
    let count = |label: &str, value: fn(&Figures) -> usize| {
        let [a, b, c] = sides.map(value);
        println!("{label:<28} {a:>12} {b:>12} {c:>12}");
    };
    let measured = |label: &str, unit: &str, value: fn(&Figures) -> f64| {
        let [a, b, c] = sides.map(value);
        println!(
            "{label:<28} {a:>8.1} {unit:<3} {b:>8.1} {unit:<3} {c:>8.1} {unit:<3}   {:.2}x, {:.2}x",
            a / b,
            a / c
        );
    };
    count("sessions established", |f| f.established);
    count("handshakes retried", |f| f.retried);
    count("pings answered", |f| f.answered);
    measured("time to establish", "s", |f| f.setup.as_secs_f64());
    measured("server RSS, idle sessions", "MiB", |f| {
        f.rss_kib as f64 / 1024.0
    });
    measured("server memory per session", "KiB", Figures::per_session_kib);
    measured("server CPU time", "s", |f| f.cpu.as_secs_f64());
}

struct Figures {
    established: usize,
    /// Handshakes that failed and were tried again.
    retried: usize,
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

/// One worker's share of the sessions: opens them, reports how many, pings
/// each once when told to, reports the pongs, closes them when told to.
async fn pingpong_worker(paths: &CertPaths, port: u16, sessions: usize) {
    let tls = client_tls_config(&TlsMaterial::from_dir(paths, LeafRole::Client), None).unwrap();
    let connector = Arc::new(
        Connector::from_rustls(full_handshakes(tls))
            .unwrap()
            .with_connect_timeout(Duration::from_secs(30)),
    );
    let url = format!("https://127.0.0.1:{port}/pingpong");
    let retries = AtomicUsize::new(0);
    let mut open = open_all(sessions, || {
        let connector = connector.clone();
        let url = url.clone();
        let retries = &retries;
        async move {
            for attempt in 1..=ATTEMPTS {
                match connector.open(&url).await {
                    Ok(session) => return Some(session),
                    Err(error) if attempt == ATTEMPTS => {
                        eprintln!("session setup failed {ATTEMPTS} times: {error}");
                    }
                    Err(_) => {
                        retries.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            None
        }
    })
    .await;
    report(&format!(
        "{} {}",
        open.len(),
        retries.load(Ordering::Relaxed)
    ));
    assert_eq!(order(), "ping");
    let options = PingOptions {
        count: Some(1),
        interval: Duration::ZERO,
        ..PingOptions::default()
    };
    let first_loss = std::sync::Once::new();
    let answered: usize = stream::iter(open.iter_mut())
        .map(|session| {
            let options = options.clone();
            let first_loss = &first_loss;
            async move {
                let mut run = PingRun::new(&options);
                let result = session
                    .ping(&mut run, &CancellationToken::new(), |_| {})
                    .await;
                if let Err(error) = &result {
                    first_loss.call_once(|| eprintln!("first session lost while idle: {error}"));
                }
                usize::from(result.is_ok() && run.summary().received == 1)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .sum();
    report(&answered.to_string());
    assert_eq!(order(), "close");
    for session in open {
        session.close().await;
    }
    connector.shutdown().await;
}

/// Like [`pingpong_worker`], with raw quinn connections and one stream echo.
async fn quinn_worker(paths: &CertPaths, port: u16, sessions: usize) {
    let tls = client_tls_config(&TlsMaterial::from_dir(paths, LeafRole::Client), None).unwrap();
    let mut config = quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(full_handshakes(tls)).unwrap(),
    ));
    config.transport_config(transport());
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let retries = AtomicUsize::new(0);
    let mut open = open_all(sessions, || {
        let endpoint = endpoint.clone();
        let config = config.clone();
        let retries = &retries;
        async move {
            let conn = with_retries(retries, || async {
                endpoint
                    .connect_with(config.clone(), addr, "localhost")
                    .ok()?
                    .await
                    .ok()
            })
            .await?;
            let stream = byte_each_way(conn.open_bi().await.ok()?).await?;
            Some((conn, stream))
        }
    })
    .await;
    echo_once_each(&mut open, retries.load(Ordering::Relaxed)).await;
    for (conn, _) in &open {
        conn.close(0u32.into(), b"");
    }
    endpoint.wait_idle().await;
}

/// Like [`quinn_worker`], over bare WebTransport sessions (wtransport, the
/// same timers as pingpong's): one stream each, one byte each way at setup.
async fn wt_worker(paths: &CertPaths, port: u16, sessions: usize) {
    let tls = client_tls_config(&TlsMaterial::from_dir(paths, LeafRole::Client), None).unwrap();
    let config = wtransport::ClientConfig::builder()
        .with_bind_address("127.0.0.1:0".parse().unwrap())
        .with_custom_tls(full_handshakes(tls))
        .keep_alive_interval(Some(pingpong::transport::KEEP_ALIVE_INTERVAL))
        .max_idle_timeout(Some(Duration::from_secs(30)))
        .unwrap()
        .build();
    let endpoint = wtransport::Endpoint::client(config).unwrap();
    let url = format!("https://127.0.0.1:{port}/");
    let retries = AtomicUsize::new(0);
    let mut open = open_all(sessions, || {
        let endpoint = &endpoint;
        let url = url.clone();
        let retries = &retries;
        async move {
            let conn =
                with_retries(retries, || async { endpoint.connect(&url).await.ok() }).await?;
            let stream = byte_each_way(conn.open_bi().await.ok()?.await.ok()?).await?;
            Some((conn, stream))
        }
    })
    .await;
    echo_once_each(&mut open, retries.load(Ordering::Relaxed)).await;
    for (conn, _) in &open {
        conn.close(0u32.into(), b"");
    }
    endpoint.wait_idle().await;
}

/// `sessions` sessions opened by `open_one`, [`CONCURRENCY`] at a time; those
/// that could not be had are left out.
async fn open_all<T, F, Fut>(sessions: usize, open_one: F) -> Vec<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    stream::iter(0..sessions)
        .map(|_| open_one())
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// One byte each way on a new stream, so that the server holds the stream of
/// an idle connection, as pingpong's does; the stream, if that worked.
async fn byte_each_way<S, R>((mut send, mut recv): (S, R)) -> Option<(S, R)>
where
    S: tokio::io::AsyncWrite + Unpin,
    R: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    send.write_all(&[0]).await.ok()?;
    recv.read_exact(&mut [0u8; 1]).await.ok()?;
    Some((send, recv))
}

/// `connect` up to [`ATTEMPTS`] times, each failure but the last counted in
/// `retries`, as a real client would try a lost handshake again.
async fn with_retries<T, F, Fut>(retries: &AtomicUsize, connect: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for attempt in 1..=ATTEMPTS {
        if let Some(conn) = connect().await {
            return Some(conn);
        }
        if attempt < ATTEMPTS {
            retries.fetch_add(1, Ordering::Relaxed);
        }
    }
    None
}

/// The idle part of an echo worker: reports the sessions `open` and the
/// handshakes `retried`, waits for "ping", echoes 64 bytes once on each
/// session's stream, reports how many came back, and waits for "close".
async fn echo_once_each<C, S, R>(open: &mut [(C, (S, R))], retried: usize)
where
    S: tokio::io::AsyncWrite + Unpin,
    R: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    report(&format!("{} {retried}", open.len()));
    assert_eq!(order(), "ping");
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
    report(&answered.to_string());
    assert_eq!(order(), "close");
}

/// Runs `sessions` over [`CLIENT_PROCESSES`] workers of `kind` against the
/// server on `port`, and reads the server's figures.
fn measure(
    kind: &str,
    home: &std::path::Path,
    port: u16,
    sessions: usize,
    server: &Server,
) -> Figures {
    let baseline_kib = rss_kib(server);
    let started = Instant::now();
    let mut workers: Vec<Worker> = (0..CLIENT_PROCESSES)
        .map(|i| {
            let share = sessions / CLIENT_PROCESSES + usize::from(i < sessions % CLIENT_PROCESSES);
            Worker::spawn(&[
                (WORKER, kind.to_string()),
                (WORKER_HOME, home.display().to_string()),
                (WORKER_PORT, port.to_string()),
                (WORKER_SESSIONS, share.to_string()),
            ])
        })
        .collect();
    let count = |workers: &mut Vec<Worker>| -> usize {
        workers
            .iter_mut()
            .map(|w| w.read().parse::<usize>().unwrap())
            .sum()
    };
    let (mut established, mut retried) = (0, 0);
    for worker in &mut workers {
        let line = worker.read();
        let (open, again) = line.split_once(' ').unwrap();
        established += open.parse::<usize>().unwrap();
        retried += again.parse::<usize>().unwrap();
    }
    let setup = started.elapsed();
    std::thread::sleep(Duration::from_secs(1)); // let the server settle
    let rss = rss_kib(server);
    workers.iter_mut().for_each(|w| w.send("ping"));
    let answered = count(&mut workers);
    let cpu = cpu_time(server);
    for mut worker in workers {
        worker.send("close");
        worker.wait();
    }
    Figures {
        established,
        retried,
        answered,
        setup,
        baseline_kib,
        rss_kib: rss,
        cpu,
    }
}

/// In a worker process: its share of the sessions.
fn worker(kind: &str) {
    let var = |name| std::env::var(name).unwrap();
    let paths = CertPaths::new(var(WORKER_HOME));
    let port: u16 = var(WORKER_PORT).parse().unwrap();
    let sessions: usize = var(WORKER_SESSIONS).parse().unwrap();
    // The client processes stand in for thousands of other machines: they
    // yield the CPU to the server, which would have its cores to itself.
    // On Linux this sets the calling thread's niceness; it is the process's
    // because no other thread exists yet (the runtime's inherit it).
    // SAFETY: setpriority takes no pointers and changes only a priority.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, CLIENT_NICENESS) } != 0 {
        eprintln!(
            "cannot lower the client process's priority: {}",
            std::io::Error::last_os_error()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match kind {
        "pingpong" => runtime.block_on(pingpong_worker(&paths, port, sessions)),
        "wtransport" => runtime.block_on(wt_worker(&paths, port, sessions)),
        _ => runtime.block_on(quinn_worker(&paths, port, sessions)),
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

/// The bare WebTransport echo server (wtransport, the same timers as
/// pingpong's server), in its own process so that its memory can be read.
fn wt_server(home: &std::path::Path) {
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
        let config = wtransport::ServerConfig::builder()
            .with_bind_address("127.0.0.1:0".parse().unwrap())
            .with_custom_tls(tls)
            .keep_alive_interval(Some(pingpong::transport::KEEP_ALIVE_INTERVAL))
            .max_idle_timeout(Some(pingpong::transport::IDLE_TIMEOUT))
            .unwrap()
            .build();
        let endpoint = wtransport::Endpoint::server(config).unwrap();
        println!(
            "wtransport echo listening on {}",
            endpoint.local_addr().unwrap()
        );
        serve_wt_sessions(endpoint, |conn| async move {
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
        })
        .await;
    });
}
