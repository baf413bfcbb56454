//! Property tests: any message survives encode → decode, and no byte string
//! makes the decoder panic.

use pingpong::proto::{encode_frame, ClientMessage, FrameDecoder, ServerMessage, ServerState};
use proptest::prelude::*;

fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        (any::<u16>(), any::<[u8; 16]>(), any::<u64>()).prop_map(
            |(version, client_id, resume_after)| {
                ClientMessage::Hello {
                    version,
                    client_id,
                    resume_after,
                }
            }
        ),
        (
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..2048)
        )
            .prop_map(|(seq, payload)| ClientMessage::Ping { seq, payload }),
        Just(ClientMessage::Goodbye),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    let state = prop_oneof![Just(ServerState::Serving), Just(ServerState::Draining)];
    prop_oneof![
        (any::<u16>(), any::<[u8; 16]>(), ".{0,64}", state).prop_map(
            |(version, server_id, instance, state)| {
                ServerMessage::Welcome {
                    version,
                    server_id,
                    instance,
                    state,
                }
            }
        ),
        (
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..2048)
        )
            .prop_map(|(seq, payload)| ServerMessage::Pong { seq, payload }),
        (".{0,64}", any::<u32>()).prop_map(|(reason, reconnect_after_ms)| ServerMessage::Drain {
            reason,
            reconnect_after_ms
        }),
        (any::<u16>(), ".{0,64}")
            .prop_map(|(code, message)| ServerMessage::Error { code, message }),
    ]
}

proptest! {
    #[test]
    fn client_messages_round_trip(messages in proptest::collection::vec(client_message(), 1..8), split in 1usize..64) {
        let stream: Vec<u8> = messages.iter().flat_map(|m| encode_frame(m).unwrap()).collect();
        let mut decoder = FrameDecoder::new();
        let mut got = Vec::new();
        for chunk in stream.chunks(split) {
            decoder.push(chunk);
            while let Some(m) = decoder.decode::<ClientMessage>().unwrap() {
                got.push(m);
            }
        }
        decoder.finish().unwrap();
        prop_assert_eq!(got, messages);
    }

    #[test]
    fn server_messages_round_trip(message in server_message()) {
        let frame = encode_frame(&message).unwrap();
        let mut decoder = FrameDecoder::new();
        decoder.push(&frame);
        prop_assert_eq!(decoder.decode::<ServerMessage>().unwrap(), Some(message));
        decoder.finish().unwrap();
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut decoder = FrameDecoder::new();
        decoder.push(&bytes);
        // Decode until an error or a lack of data; both are fine, a panic is not.
        for _ in 0..bytes.len() + 1 {
            match decoder.decode::<ClientMessage>() {
                Ok(Some(_)) => continue,
                _ => break,
            }
        }
        let mut decoder = FrameDecoder::new();
        decoder.push(&bytes);
        let _ = decoder.decode::<ServerMessage>();
    }
}
