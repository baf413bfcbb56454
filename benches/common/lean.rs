//! The lean limit the binary is measured against: a raw QUIC echo built for
//! speed, in the binary's shape (an echo server process and a client process).
//!
//! Each process runs a `current_thread` tokio runtime, so a round trip wakes
//! one thread in each process and no more. One bidirectional stream carries
//! messages of a 4-byte length prefix and the payload, under the same mTLS as
//! pingpong (the same CA, P-256 leaves, the client certificate verified). The
//! echo server parses every complete message it has and writes them back in
//! one write. The client either awaits `write_all` then `read_exact`
//! (sequential) or runs a writer and a reader that share a window of
//! in-flight messages (pipelined), checking that every echo comes back once
//! and in order. Two stacks: raw quinn, and a bare wtransport session (what
//! WebTransport adds to quinn). QUIC's transport settings are quinn's
//! defaults: nothing pingpong chose is carried here.
//!
//! The processes are this benchmark's own executable re-run in a role, chosen
//! by [`ROLE`] before any runtime starts ([`play_role`]).

#![allow(dead_code)] // each benchmark uses a different subset

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use pingpong::tls::{client_tls_config, server_tls_config, CertPaths, LeafRole, TlsMaterial};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use wtransport::quinn;

use crate::process::{self, Server};
use crate::rtt::percentile;

/// Set in a child process: the role it plays (`quinn-echo`, `wt-echo`,
/// `quinn-client`, `wt-client`).
const ROLE: &str = "PINGPONG_BENCH_LEAN_ROLE";
/// A client's target: the echo server's address (quinn) or URL (wtransport).
const TARGET: &str = "PINGPONG_BENCH_LEAN_TARGET";
/// A client's number of echoes.
const COUNT: &str = "PINGPONG_BENCH_LEAN_COUNT";
/// A client's window: 1 is sequential, more is pipelined.
const WINDOW: &str = "PINGPONG_BENCH_LEAN_WINDOW";
/// A client's payload bytes per message.
const PAYLOAD: &str = "PINGPONG_BENCH_LEAN_PAYLOAD";

/// Bytes of the length prefix.
const PREFIX: usize = 4;

/// Which stack the lean echo runs on.
#[derive(Clone, Copy, Debug)]
pub enum Stack {
    /// Raw quinn: one QUIC connection, one bidirectional stream.
    Quinn,
    /// A bare wtransport session (HTTP/3, CONNECT), one bidirectional stream.
    WebTransport,
}

impl Stack {
    fn name(self) -> &'static str {
        match self {
            Stack::Quinn => "quinn",
            Stack::WebTransport => "wt",
        }
    }
}

/// A lean echo server process and where to reach it.
pub struct LeanEcho {
    /// The process (killed when dropped).
    pub process: Server,
    stack: Stack,
    target: String,
}

/// What a lean client process measured.
#[derive(Clone, Copy, Debug)]
pub struct LeanRun {
    /// RTT p50, µs (sequential runs).
    pub p50_us: f64,
    /// RTT p99, µs (sequential runs).
    pub p99_us: f64,
    /// Echoes per second over the whole run.
    pub per_sec: f64,
}

fn material(role: LeafRole) -> TlsMaterial {
    let home = std::env::var("PINGPONG_HOME").expect("PINGPONG_HOME");
    TlsMaterial::from_dir(&CertPaths::new(home), role)
}

fn env_u64(name: &str) -> u64 {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} unset"))
        .parse()
        .unwrap()
}

/// In a child process: plays its role on a `current_thread` runtime and
/// returns true; false in the benchmark's own process.
pub fn play_role() -> bool {
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        match role.as_str() {
            "quinn-echo" => quinn_echo().await,
            "wt-echo" => wt_echo().await,
            "quinn-client" | "wt-client" => {
                let run = client(role == "wt-client").await;
                println!("{} {} {}", run.p50_us, run.p99_us, run.per_sec);
            }
            other => panic!("unknown lean role {other:?}"),
        }
    });
    true
}

/// Starts a lean echo server process of `stack` with the certificates of
/// `home`, on CPU `cpu` if given.
pub fn start(home: &Path, stack: Stack, cpu: Option<usize>) -> LeanEcho {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.env(ROLE, format!("{}-echo", stack.name()));
    if let Some(cpu) = cpu {
        process::pin(&mut command, cpu);
    }
    let (process, port) = process::spawn_server(&mut command, home);
    let target = match stack {
        Stack::Quinn => format!("127.0.0.1:{port}"),
        Stack::WebTransport => format!("https://127.0.0.1:{port}/echo"),
    };
    LeanEcho {
        process,
        stack,
        target,
    }
}

impl LeanEcho {
    /// The command that runs a client of this echo: `count` echoes of
    /// `payload` bytes, `window` in flight (1: sequential).
    pub fn client(&self, home: &Path, count: u64, window: u64, payload: usize) -> Command {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .env(ROLE, format!("{}-client", self.stack.name()))
            .env(TARGET, &self.target)
            .env(COUNT, count.to_string())
            .env(WINDOW, window.to_string())
            .env(PAYLOAD, payload.to_string())
            .env("PINGPONG_HOME", home)
            .stderr(Stdio::inherit());
        command
    }

    /// Runs a client process (see [`client`](Self::client)) on CPU `cpu` and
    /// reads its figures.
    pub fn run(&self, home: &Path, count: u64, window: u64, payload: usize, cpu: usize) -> LeanRun {
        let mut command = self.client(home, count, window, payload);
        parse_run(&process::pin(&mut command, cpu).output().unwrap())
    }
}

/// A lean client's figures from its output.
pub fn parse_run(out: &std::process::Output) -> LeanRun {
    let text = String::from_utf8_lossy(&out.stdout);
    let figures: Vec<f64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    assert!(
        out.status.success() && figures.len() == 3,
        "lean client process: {text:?}"
    );
    LeanRun {
        p50_us: figures[0],
        p99_us: figures[1],
        per_sec: figures[2],
    }
}

// ---------- servers ----------

fn quinn_server_config() -> quinn::ServerConfig {
    let tls = server_tls_config(&material(LeafRole::Server)).unwrap();
    quinn::ServerConfig::with_crypto(Arc::new(
        quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap(),
    ))
}

async fn quinn_echo() {
    let endpoint =
        quinn::Endpoint::server(quinn_server_config(), "127.0.0.1:0".parse().unwrap()).unwrap();
    println!("listening on {}", endpoint.local_addr().unwrap());
    while let Some(incoming) = endpoint.accept().await {
        tokio::spawn(async move {
            let Ok(conn) = incoming.await else { return };
            while let Ok((send, recv)) = conn.accept_bi().await {
                tokio::spawn(echo_messages(recv, send));
            }
        });
    }
}

async fn wt_echo() {
    let tls = server_tls_config(&material(LeafRole::Server)).unwrap();
    let config = wtransport::ServerConfig::builder()
        .with_bind_address("127.0.0.1:0".parse().unwrap())
        .with_custom_tls(tls)
        .build();
    let endpoint = wtransport::Endpoint::server(config).unwrap();
    println!("listening on {}", endpoint.local_addr().unwrap());
    crate::echo::serve_wt_sessions(endpoint, |conn| async move {
        while let Ok((send, recv)) = conn.accept_bi().await {
            tokio::spawn(echo_messages(recv, send));
        }
    })
    .await;
}

/// Echoes every complete message read, all of a read's messages in one write.
async fn echo_messages(mut recv: impl AsyncRead + Unpin, mut send: impl AsyncWrite + Unpin) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0;
    loop {
        let n = match recv.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        let mut complete = 0;
        while filled - complete >= PREFIX {
            let len = u32::from_be_bytes(buf[complete..complete + PREFIX].try_into().unwrap());
            let end = complete + PREFIX + len as usize;
            assert!(end <= buf.len(), "message over the echo's buffer");
            if end > filled {
                break;
            }
            complete = end;
        }
        if complete > 0 {
            if send.write_all(&buf[..complete]).await.is_err() {
                return;
            }
            buf.copy_within(complete..filled, 0);
            filled -= complete;
        }
    }
}

// ---------- clients ----------

async fn client(webtransport: bool) -> LeanRun {
    let target = std::env::var(TARGET).unwrap();
    let count = env_u64(COUNT);
    let window = env_u64(WINDOW);
    let payload = env_u64(PAYLOAD) as usize;
    let tls = client_tls_config(&material(LeafRole::Client), None).unwrap();
    if webtransport {
        let config = wtransport::ClientConfig::builder()
            .with_bind_address("127.0.0.1:0".parse().unwrap())
            .with_custom_tls(tls)
            .build();
        let endpoint = wtransport::Endpoint::client(config).unwrap();
        let conn = endpoint.connect(&target).await.unwrap();
        let (send, recv) = conn.open_bi().await.unwrap().await.unwrap();
        let run = echoes(send, recv, count, window, payload).await;
        conn.close(0u32.into(), b"");
        endpoint.wait_idle().await;
        run
    } else {
        let mut config = quinn::ClientConfig::new(Arc::new(
            quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap(),
        ));
        config.transport_config(Arc::new(quinn::TransportConfig::default()));
        let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr: SocketAddr = target.parse().unwrap();
        let conn = endpoint
            .connect_with(config, addr, "localhost")
            .unwrap()
            .await
            .unwrap();
        let (send, recv) = conn.open_bi().await.unwrap();
        let run = echoes(send, recv, count, window, payload).await;
        conn.close(0u32.into(), b"");
        endpoint.wait_idle().await;
        run
    }
}

/// Appends a message to `buf`: the length prefix, then `payload` bytes that
/// start with `seq`.
fn push_message(buf: &mut Vec<u8>, seq: u64, payload: usize) {
    buf.extend_from_slice(&(payload as u32).to_be_bytes());
    let start = buf.len();
    buf.resize(start + payload, 0x5a);
    let n = payload.min(8);
    buf[start..start + n].copy_from_slice(&seq.to_le_bytes()[..n]);
}

fn seq_of(m: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = (m.len() - PREFIX).min(8);
    bytes[..n].copy_from_slice(&m[PREFIX..PREFIX + n]);
    u64::from_le_bytes(bytes)
}

async fn echoes(
    send: impl AsyncWrite + Unpin,
    recv: impl AsyncRead + Unpin,
    count: u64,
    window: u64,
    payload: usize,
) -> LeanRun {
    assert!(payload >= 8, "the seq rides in the payload");
    if window <= 1 {
        sequential(send, recv, count, payload).await
    } else {
        pipelined(send, recv, count, window, payload).await
    }
}

async fn sequential(
    mut send: impl AsyncWrite + Unpin,
    mut recv: impl AsyncRead + Unpin,
    count: u64,
    payload: usize,
) -> LeanRun {
    let mut back = vec![0u8; PREFIX + payload];
    let mut rtts = Vec::with_capacity(count as usize);
    let started = Instant::now();
    let mut m = Vec::with_capacity(PREFIX + payload);
    for seq in 1..=count {
        m.clear();
        push_message(&mut m, seq, payload);
        let t = Instant::now();
        send.write_all(&m).await.unwrap();
        recv.read_exact(&mut back).await.unwrap();
        rtts.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(seq_of(&back), seq, "echoes in order");
    }
    let per_sec = count as f64 / started.elapsed().as_secs_f64();
    rtts.sort_by(f64::total_cmp);
    LeanRun {
        p50_us: percentile(&rtts, 50.0),
        p99_us: percentile(&rtts, 99.0),
        per_sec,
    }
}

/// A writer and a reader sharing a window of `window` messages: the writer
/// writes every message the window allows in one write.
async fn pipelined(
    mut send: impl AsyncWrite + Unpin,
    mut recv: impl AsyncRead + Unpin,
    count: u64,
    window: u64,
    payload: usize,
) -> LeanRun {
    let room = tokio::sync::Semaphore::new(window as usize);
    let started = Instant::now();
    let writer = async {
        let mut batch = Vec::with_capacity(window as usize * (PREFIX + payload));
        let mut next = 1u64;
        while next <= count {
            // One slot at least, then every other free one the run still needs.
            room.acquire().await.unwrap().forget();
            let more = (room.available_permits() as u64).min(count - next) as u32;
            room.try_acquire_many(more).unwrap().forget();
            batch.clear();
            for seq in next..=next + u64::from(more) {
                push_message(&mut batch, seq, payload);
            }
            send.write_all(&batch).await.unwrap();
            next += 1 + u64::from(more);
        }
    };
    let reader = async {
        let mut back = vec![0u8; PREFIX + payload];
        for seq in 1..=count {
            recv.read_exact(&mut back).await.unwrap();
            assert_eq!(seq_of(&back), seq, "echoes once each, in order");
            room.add_permits(1);
        }
    };
    tokio::join!(writer, reader);
    LeanRun {
        p50_us: f64::NAN,
        p99_us: f64::NAN,
        per_sec: count as f64 / started.elapsed().as_secs_f64(),
    }
}
