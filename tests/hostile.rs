//! Hostile and greedy peers, with valid client certificates (mTLS does not
//! protect from a compromised insider): each gets a clear error or is held back,
//! and the server still answers a well-behaved client afterwards. Every test
//! runs against the Rust server and the Python server (`python/`).

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::*;
use pingpong::proto::{encode_frame, ClientMessage, ErrorCode, FrameDecoder, ServerMessage};
use pingpong::tls::{client_tls_config, LeafRole, TlsMaterial};
use wtransport::endpoint::endpoint_side;
use wtransport::{Connection, Endpoint};

/// Which server implementation a test runs against.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Rust,
    Python,
}

/// Starts a server of `kind` on loopback with the server files of `paths`.
fn start(kind: Kind, paths: &pingpong::tls::CertPaths, extra: &[&str]) -> ServerProcess {
    match kind {
        Kind::Rust => {
            let mut args = strings(extra);
            args.extend(tls_args(paths, LeafRole::Server));
            ServerProcess::start(&args, &[])
        }
        Kind::Python => ServerProcess::start_python(paths, extra),
    }
}

/// One test per server implementation: `<name>::rust` and `<name>::python`.
macro_rules! against_both_servers {
    ($name:ident) => {
        // Multi-threaded: the raw client's QUIC driver keeps running while a test
        // blocks on a server's log or a client process.
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rust() {
                super::$name(super::Kind::Rust).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn python() {
                super::$name(super::Kind::Python).await
            }
        }
    };
}

against_both_servers!(garbage_huge_prefixes_and_ping_before_hello_get_errors);
against_both_servers!(extra_streams_are_held_back_by_the_stream_limit);
against_both_servers!(over_the_session_limit_a_client_is_told_the_server_is_full);
against_both_servers!(a_client_that_never_reads_its_pongs_is_held_back);
against_both_servers!(a_hundred_fast_reconnects_of_one_client_id_leave_the_server_serving);
against_both_servers!(a_client_that_stops_its_control_stream_does_not_break_the_drain);

/// A raw WebTransport client: the protocol is whatever the test writes.
async fn raw_client(paths: &pingpong::tls::CertPaths) -> Endpoint<endpoint_side::Client> {
    let tls = client_tls_config(&TlsMaterial::from_dir(paths, LeafRole::Client), None).unwrap();
    let config = wtransport::ClientConfig::builder()
        .with_bind_default()
        .with_custom_tls(tls)
        .build();
    Endpoint::client(config).unwrap()
}

/// Writes `bytes` on a fresh control stream and returns the server's messages.
async fn send_raw(connection: &Connection, bytes: &[u8]) -> Vec<ServerMessage> {
    let (mut send, mut recv) = connection.open_bi().await.unwrap().await.unwrap();
    send.write_all(bytes).await.unwrap();
    let mut decoder = FrameDecoder::new();
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    while let Ok(Ok(Some(n))) =
        tokio::time::timeout(Duration::from_secs(5), recv.read(&mut buf)).await
    {
        decoder.push(&buf[..n]);
        while let Ok(Some(m)) = decoder.decode::<ServerMessage>() {
            out.push(m);
        }
    }
    out
}

fn error_code(messages: &[ServerMessage]) -> Option<u16> {
    messages.iter().find_map(|m| match m {
        ServerMessage::Error { code, .. } => Some(*code),
        _ => None,
    })
}

fn assert_still_serving(server: &ServerProcess, paths: &pingpong::tls::CertPaths) {
    let mut args = strings(&[&server.url(), "-c", "2", "-i", "0.01"]);
    args.extend(tls_args(paths, LeafRole::Client));
    let out = client(&args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

async fn garbage_huge_prefixes_and_ping_before_hello_get_errors(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = start(kind, &paths, &[]);
    let endpoint = raw_client(&paths).await;
    let hello = encode_frame(&ClientMessage::Hello {
        version: 1,
        client_id: [7; 16],
        resume_after: 0,
    })
    .unwrap();
    let ping = encode_frame(&ClientMessage::Ping {
        seq: 1,
        payload: vec![],
    })
    .unwrap();
    let mut with_garbage = hello.clone();
    with_garbage.extend([3, 0xee, 0xee, 0xee]);
    for (bytes, want) in [
        (with_garbage, ErrorCode::MalformedFrame),
        (vec![0x80, 0x80, 0x80, 0x80, 0x10], ErrorCode::LimitExceeded), // 4 GiB announced
        (ping, ErrorCode::UnexpectedMessage),
    ] {
        let connection = endpoint.connect(server.url()).await.unwrap();
        let replies = send_raw(&connection, &bytes).await;
        assert_eq!(error_code(&replies), Some(want.as_u16()), "{replies:?}");
    }
    assert_still_serving(&server, &paths);
}

async fn extra_streams_are_held_back_by_the_stream_limit(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = start(kind, &paths, &[]);
    let endpoint = raw_client(&paths).await;
    let connection = endpoint.connect(server.url()).await.unwrap();
    let _control = connection.open_bi().await.unwrap().await.unwrap();
    // CONNECT + control stream use the two bidirectional streams allowed: the
    // next one is not granted (QUIC flow control), whatever the client asks.
    let extra = tokio::time::timeout(Duration::from_secs(1), async {
        connection.open_bi().await.unwrap().await
    })
    .await;
    assert!(extra.is_err(), "a third bidirectional stream was granted");
    assert_still_serving(&server, &paths);
}

async fn over_the_session_limit_a_client_is_told_the_server_is_full(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = start(kind, &paths, &["--max-sessions", "1"]);
    // One client holds the only session.
    let (mut holder, mut lines) = endless_client(server.url().as_str(), &paths, &[]);
    assert!(lines.next().unwrap().unwrap().starts_with("PINGPONG"));
    let mut args = strings(&[&server.url(), "-c", "1", "--reconnect-timeout", "0"]);
    args.extend(tls_args(&paths, LeafRole::Client));
    let out = client(&args);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("server full: 1 sessions"),
        "{}",
        describe(&out)
    );
    server.wait_for_log("session refused: server full", Duration::from_secs(10));
    // The slot is given back when the holder leaves.
    send_signal(&holder, libc::SIGINT);
    holder.wait().unwrap();
    server.wait_for_log("closed by client", Duration::from_secs(10));
    assert_still_serving(&server, &paths);
}

/// The server's resident memory, in KiB.
fn rss_kib(server: &ServerProcess) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Growth allowed in these tests: generous against allocator noise, far below
/// what unbounded buffering of the traffic would take.
const RSS_GROWTH_BOUND_KIB: u64 = 64 * 1024;

async fn a_client_that_never_reads_its_pongs_is_held_back(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = start(kind, &paths, &[]);
    let before = rss_kib(&server);
    let endpoint = raw_client(&paths).await;
    let connection = endpoint.connect(server.url()).await.unwrap();
    let (mut send, _recv_never_read) = connection.open_bi().await.unwrap().await.unwrap();
    let hello = encode_frame(&ClientMessage::Hello {
        version: 1,
        client_id: [9; 16],
        resume_after: 0,
    })
    .unwrap();
    send.write_all(&hello).await.unwrap();
    // 64 MiB of pings, 16 KiB each: the server answers until its pongs fill our
    // receive window, then stops reading; our writes stall (the Rust server), or
    // the server ends the session once a bounded backlog of unread pings has
    // piled up (the Python server: aioquic keeps granting flow-control credit).
    let ping = |seq| {
        encode_frame(&ClientMessage::Ping {
            seq,
            payload: vec![0; 16 * 1024],
        })
        .unwrap()
    };
    let written = tokio::time::timeout(Duration::from_secs(3), async {
        let mut seq = 0u64;
        while seq < 4096 {
            seq += 1;
            if send.write_all(&ping(seq)).await.is_err() {
                break;
            }
        }
        seq
    })
    .await;
    assert!(
        written.map_or(true, |seq| seq < 4096),
        "64 MiB went through although nobody read the pongs"
    );
    let growth = rss_kib(&server).saturating_sub(before);
    println!("server RSS {before} KiB -> +{growth} KiB");
    assert!(growth < RSS_GROWTH_BOUND_KIB, "server grew by {growth} KiB");
    assert_still_serving(&server, &paths);
}

async fn a_hundred_fast_reconnects_of_one_client_id_leave_the_server_serving(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let server = start(kind, &paths, &[]);
    let before = rss_kib(&server);
    let endpoint = raw_client(&paths).await;
    for seq in 1..=100u64 {
        let connection = endpoint.connect(server.url()).await.unwrap();
        let mut bytes = encode_frame(&ClientMessage::Hello {
            version: 1,
            client_id: [3; 16],
            resume_after: seq - 1,
        })
        .unwrap();
        bytes.extend(
            encode_frame(&ClientMessage::Ping {
                seq,
                payload: vec![1; 512],
            })
            .unwrap(),
        );
        let (mut send, mut recv) = connection.open_bi().await.unwrap().await.unwrap();
        send.write_all(&bytes).await.unwrap();
        let mut decoder = FrameDecoder::new();
        let mut buf = [0u8; 4096];
        // Welcome, then the pong (possibly replayed ones first): read up to it.
        'read: loop {
            let n = recv
                .read(&mut buf)
                .await
                .unwrap()
                .expect("stream ended before the pong");
            decoder.push(&buf[..n]);
            while let Some(message) = decoder.decode::<ServerMessage>().unwrap() {
                if matches!(message, ServerMessage::Pong { seq: s, .. } if s == seq) {
                    break 'read;
                }
            }
        }
        connection.close(0u32.into(), b"");
    }
    let growth = rss_kib(&server).saturating_sub(before);
    println!("server RSS {before} KiB -> +{growth} KiB");
    assert!(growth < RSS_GROWTH_BOUND_KIB, "server grew by {growth} KiB");
    assert_still_serving(&server, &paths);
}

async fn a_client_that_stops_its_control_stream_does_not_break_the_drain(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let paths = pki(dir.path(), "ca");
    let mut server = start(kind, &paths, &[]);
    let endpoint = raw_client(&paths).await;
    let connection = endpoint.connect(server.url()).await.unwrap();
    let (mut send, mut recv) = connection.open_bi().await.unwrap().await.unwrap();
    let hello = encode_frame(&ClientMessage::Hello {
        version: 1,
        client_id: [5; 16],
        resume_after: 0,
    })
    .unwrap();
    send.write_all(&hello).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = recv.read(&mut buf).await.unwrap().unwrap();
    let mut decoder = FrameDecoder::new();
    decoder.push(&buf[..n]);
    assert!(matches!(
        decoder.decode::<ServerMessage>().unwrap(),
        Some(ServerMessage::Welcome { .. })
    ));
    // STOP_SENDING on the control stream, then a ping the server cannot answer.
    recv.stop(0u32.into());
    let ping = encode_frame(&ClientMessage::Ping {
        seq: 1,
        payload: vec![],
    })
    .unwrap();
    let _ = send.write_all(&ping).await;
    server.wait_for_log(
        match kind {
            Kind::Rust => "session ended",
            Kind::Python => "end=control stream reset by client",
        },
        Duration::from_secs(10),
    );
    assert_still_serving(&server, &paths);
    // The drain goes through, and the server exits cleanly.
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "{status:?}\n{}", server.logs());
}
