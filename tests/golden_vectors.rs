//! Golden vectors: the exact bytes of every v1 message, in `testdata/proto-v1/`.
//!
//! The Python server's codec is tested against the same files. To regenerate them
//! after a deliberate wire change: `PINGPONG_BLESS=1 cargo test --test golden_vectors`
//! (and commit the vectors with the change).

use std::path::PathBuf;

use pingpong::proto::{
    encode_frame, ClientMessage, FrameDecoder, ServerMessage, ServerState, WireMessage,
};
use serde_json::{json, Value};

enum Msg {
    Client(ClientMessage),
    Server(ServerMessage),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every vector: file stem, message, and the message as the manifest describes it.
fn vectors() -> Vec<(&'static str, Msg)> {
    let id: [u8; 16] = std::array::from_fn(|i| i as u8);
    let server_id: [u8; 16] = std::array::from_fn(|i| 0xf0 ^ i as u8);
    vec![
        (
            "client_hello",
            Msg::Client(ClientMessage::Hello {
                version: 1,
                client_id: id,
                resume_after: 0,
            }),
        ),
        (
            "client_hello_resume",
            Msg::Client(ClientMessage::Hello {
                version: 1,
                client_id: id,
                resume_after: 300,
            }),
        ),
        (
            "client_hello_future_version",
            Msg::Client(ClientMessage::Hello {
                version: 65535,
                client_id: id,
                resume_after: u64::MAX,
            }),
        ),
        (
            "client_ping",
            Msg::Client(ClientMessage::Ping {
                seq: 1,
                payload: b"ping".to_vec(),
            }),
        ),
        (
            "client_ping_empty",
            Msg::Client(ClientMessage::Ping {
                seq: 0,
                payload: vec![],
            }),
        ),
        (
            "client_ping_large",
            Msg::Client(ClientMessage::Ping {
                seq: u64::MAX,
                payload: vec![0xab; 200],
            }),
        ),
        ("client_goodbye", Msg::Client(ClientMessage::Goodbye)),
        (
            "server_welcome",
            Msg::Server(ServerMessage::Welcome {
                version: 1,
                server_id,
                instance: "host-a".into(),
                state: ServerState::Serving,
            }),
        ),
        (
            "server_welcome_draining",
            Msg::Server(ServerMessage::Welcome {
                version: 1,
                server_id,
                instance: "büro-α".into(),
                state: ServerState::Draining,
            }),
        ),
        (
            "server_pong",
            Msg::Server(ServerMessage::Pong {
                seq: 1,
                payload: b"ping".to_vec(),
            }),
        ),
        (
            "server_pong_large",
            Msg::Server(ServerMessage::Pong {
                seq: 1 << 40,
                payload: vec![0xcd; 300],
            }),
        ),
        (
            "server_drain",
            Msg::Server(ServerMessage::Drain {
                reason: "shutting down".into(),
                reconnect_after_ms: 1500,
            }),
        ),
        (
            "server_error",
            Msg::Server(ServerMessage::Error {
                code: 1,
                message: "protocol version 0 is not supported".into(),
            }),
        ),
    ]
}

fn describe(msg: &Msg) -> Value {
    match msg {
        Msg::Client(ClientMessage::Hello {
            version,
            client_id,
            resume_after,
        }) => json!({
            "type": "Hello", "version": version, "client_id": hex(client_id), "resume_after": resume_after.to_string() }),
        Msg::Client(ClientMessage::Ping { seq, payload }) => json!({
            "type": "Ping", "seq": seq.to_string(), "payload": hex(payload) }),
        Msg::Client(ClientMessage::Goodbye) => json!({ "type": "Goodbye" }),
        Msg::Server(ServerMessage::Welcome {
            version,
            server_id,
            instance,
            state,
        }) => json!({
            "type": "Welcome", "version": version, "server_id": hex(server_id), "instance": instance,
            "state": match state { ServerState::Serving => "serving", ServerState::Draining => "draining" } }),
        Msg::Server(ServerMessage::Pong { seq, payload }) => json!({
            "type": "Pong", "seq": seq.to_string(), "payload": hex(payload) }),
        Msg::Server(ServerMessage::Drain {
            reason,
            reconnect_after_ms,
        }) => json!({
            "type": "Drain", "reason": reason, "reconnect_after_ms": reconnect_after_ms }),
        Msg::Server(ServerMessage::Error { code, message }) => json!({
            "type": "Error", "code": code, "message": message }),
    }
}

fn encode(msg: &Msg) -> Vec<u8> {
    match msg {
        Msg::Client(m) => encode_frame(m).unwrap(),
        Msg::Server(m) => encode_frame(m).unwrap(),
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/proto-v1")
}

fn manifest() -> Value {
    let entries: Vec<Value> = vectors()
        .iter()
        .map(|(name, msg)| {
            json!({
                "file": format!("{name}.bin"),
                "direction": match msg { Msg::Client(_) => "client_to_server", Msg::Server(_) => "server_to_client" },
                "message": describe(msg),
            })
        })
        .collect();
    json!({
        "protocol_version": 1,
        "format": "each .bin file is one frame: LEB128 length, then the postcard-encoded message; u64 values are decimal strings, bytes are hex",
        "vectors": entries,
    })
}

#[test]
fn vectors_match_the_files_byte_for_byte() {
    let dir = dir();
    let manifest_text = serde_json::to_string_pretty(&manifest()).unwrap() + "\n";
    if std::env::var_os("PINGPONG_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, msg) in vectors() {
            std::fs::write(dir.join(format!("{name}.bin")), encode(&msg)).unwrap();
        }
        std::fs::write(dir.join("vectors.json"), &manifest_text).unwrap();
    }
    for (name, msg) in vectors() {
        let path = dir.join(format!("{name}.bin"));
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with PINGPONG_BLESS=1 to create)",
                path.display()
            )
        });
        assert_eq!(
            hex(&on_disk),
            hex(&encode(&msg)),
            "{name}: encoding differs from the golden file"
        );
    }
    let on_disk = std::fs::read_to_string(dir.join("vectors.json")).unwrap();
    assert_eq!(on_disk, manifest_text, "vectors.json is stale");
    // No stray files: every .bin is a known vector.
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".bin"))
        .collect();
    files.sort();
    let mut known: Vec<String> = vectors().iter().map(|(n, _)| format!("{n}.bin")).collect();
    known.sort();
    assert_eq!(files, known);
}

#[test]
fn golden_files_decode_to_their_messages() {
    for (name, msg) in vectors() {
        let bytes = std::fs::read(dir().join(format!("{name}.bin"))).unwrap();
        let mut decoder = FrameDecoder::new();
        decoder.push(&bytes);
        match msg {
            Msg::Client(want) => assert_eq!(
                decoder.decode::<ClientMessage>().unwrap(),
                Some(want),
                "{name}"
            ),
            Msg::Server(want) => assert_eq!(
                decoder.decode::<ServerMessage>().unwrap(),
                Some(want),
                "{name}"
            ),
        }
        decoder.finish().unwrap();
    }
}

/// The message tag of a frame: the first byte after its LEB128 length (every
/// v1 tag is below 128, one byte).
fn tag_of(frame: &[u8]) -> u8 {
    let length_bytes = frame.iter().position(|b| b & 0x80 == 0).unwrap() + 1;
    frame[length_bytes]
}

#[test]
fn every_variant_has_a_vector() {
    // Every tag the protocol knows (WireMessage::TAGS, which a new variant must
    // raise to be decoded at all) has a vector in each direction.
    let (client, server): (Vec<_>, Vec<_>) = vectors()
        .into_iter()
        .partition(|(_, m)| matches!(m, Msg::Client(_)));
    for (vectors, tags, direction) in [
        (client, ClientMessage::TAGS, "client"),
        (server, ServerMessage::TAGS, "server"),
    ] {
        let mut seen: Vec<u32> = vectors
            .iter()
            .map(|(_, m)| u32::from(tag_of(&encode(m))))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen,
            (0..tags).collect::<Vec<_>>(),
            "{direction} tags with a vector"
        );
    }
}

/// One frame of every message kind, written byte by byte from
/// docs/protocol.md (a LEB128 length; a varint tag; then the fields in order:
/// varints, fixed arrays as raw bytes, bytes and strings as a varint length
/// and the bytes): the encoder and the golden files must agree with the
/// document, not only with each other.
#[test]
fn every_message_kind_matches_bytes_written_from_the_spec() {
    let client_id: Vec<u8> = (0u8..16).collect();
    let server_id: Vec<u8> = (0u8..16).map(|i| 0xf0 ^ i).collect();
    let by_hand: [(&str, Vec<u8>); 7] = [
        // Hello: length 20, tag 0, version 1, the 16-byte id, resume_after 300
        // (0xac 0x02: 0x2c | 0x80, then 300 >> 7).
        (
            "client_hello_resume",
            [&[0x14, 0x00, 0x01][..], &client_id, &[0xac, 0x02]].concat(),
        ),
        // Ping: length 7, tag 1, seq 1, payload length 4, "ping".
        (
            "client_ping",
            [&[0x07, 0x01, 0x01, 0x04][..], b"ping"].concat(),
        ),
        // Goodbye: length 1, tag 2.
        ("client_goodbye", vec![0x01, 0x02]),
        // Welcome: length 26, tag 0, version 1, the 16-byte id, "host-a",
        // state Serving (tag 0).
        (
            "server_welcome",
            [
                &[0x1a, 0x00, 0x01][..],
                &server_id,
                &[0x06],
                b"host-a",
                &[0x00],
            ]
            .concat(),
        ),
        // Pong: the Ping's layout under tag 1 of the other direction.
        (
            "server_pong",
            [&[0x07, 0x01, 0x01, 0x04][..], b"ping"].concat(),
        ),
        // Drain: length 17, tag 2, a 13-byte reason, 1500 ms (0xdc 0x0b).
        (
            "server_drain",
            [&[0x11, 0x02, 0x0d][..], b"shutting down", &[0xdc, 0x0b]].concat(),
        ),
        // Error: length 38, tag 3, code 1, a 35-byte message.
        (
            "server_error",
            [
                &[0x26, 0x03, 0x01, 0x23][..],
                b"protocol version 0 is not supported",
            ]
            .concat(),
        ),
    ];
    for (name, bytes) in by_hand {
        let (_, message) = vectors().into_iter().find(|(n, _)| *n == name).unwrap();
        assert_eq!(hex(&encode(&message)), hex(&bytes), "{name}: the encoder");
        let file = std::fs::read(dir().join(format!("{name}.bin"))).unwrap();
        assert_eq!(hex(&file), hex(&bytes), "{name}: the golden file");
    }
}
