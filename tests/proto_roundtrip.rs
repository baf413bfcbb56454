//! Property tests: any message survives encode → decode, and no byte string
//! makes the decoder panic.

use pingpong::proto::{
    encode_frame, encode_frame_into, encode_ping_into, encode_pong_into, ClientMessage,
    FrameDecoder, ServerMessage, ServerState, WireMessage,
};
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

/// `messages` framed into one stream, fed to a decoder `split` bytes at a
/// time, and read back with `next` after each piece.
fn decode_in_pieces<T>(
    messages: &[impl WireMessage],
    split: usize,
    mut next: impl FnMut(&mut FrameDecoder) -> Option<T>,
) -> Vec<T> {
    let stream: Vec<u8> = messages
        .iter()
        .flat_map(|m| encode_frame(m).unwrap())
        .collect();
    let mut decoder = FrameDecoder::new();
    let mut got = Vec::new();
    for chunk in stream.chunks(split) {
        decoder.push(chunk);
        while let Some(m) = next(&mut decoder) {
            got.push(m);
        }
    }
    decoder.finish().unwrap();
    got
}

proptest! {
    #[test]
    fn client_messages_round_trip(messages in proptest::collection::vec(client_message(), 1..8), split in 1usize..64) {
        let got = decode_in_pieces(&messages, split, |decoder| {
            decoder.decode::<ClientMessage>().unwrap()
        });
        prop_assert_eq!(got, messages);
    }

    #[test]
    fn a_client_view_decodes_what_the_owned_message_decodes(
        messages in proptest::collection::vec(client_message(), 1..8),
        split in 1usize..64,
    ) {
        // The server decodes in place (ClientMessageView): the same frames
        // must give the same messages, split anywhere.
        let got = decode_in_pieces(&messages, split, |decoder| {
            decoder.decode_client_view().unwrap().map(|view| view.to_message())
        });
        prop_assert_eq!(got, messages);
    }

    #[test]
    fn a_server_view_decodes_what_the_owned_message_decodes(
        messages in proptest::collection::vec(server_message(), 1..8),
        split in 1usize..64,
    ) {
        // The client decodes pongs in place (ServerMessageView): the same
        // frames must give the same messages, split anywhere.
        let got = decode_in_pieces(&messages, split, |decoder| {
            decoder.decode_server_view().unwrap().map(|view| view.to_message())
        });
        prop_assert_eq!(got, messages);
    }

    #[test]
    fn a_ping_encoded_from_a_borrowed_payload_is_the_ping_message(
        seq in any::<u64>(),
        payload in proptest::collection::vec(any::<u8>(), 0..2048),
        before in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let mut borrowed = before.clone();
        encode_ping_into(seq, &payload, &mut borrowed).unwrap();
        let mut owned = before;
        encode_frame_into(&ClientMessage::Ping { seq, payload }, &mut owned).unwrap();
        prop_assert_eq!(borrowed, owned);
    }

    #[test]
    fn a_pong_encoded_from_a_borrowed_payload_is_the_pong_message(
        seq in any::<u64>(),
        payload in proptest::collection::vec(any::<u8>(), 0..2048),
        before in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let mut borrowed = before.clone();
        encode_pong_into(seq, &payload, &mut borrowed).unwrap();
        let mut owned = before;
        encode_frame_into(&ServerMessage::Pong { seq, payload }, &mut owned).unwrap();
        prop_assert_eq!(borrowed, owned);
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
    fn any_body_behind_a_known_or_unknown_tag_decodes_as_that_tag_or_fails_cleanly(
        tag in 0u8..5,
        body in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        // A complete frame: its length, a tag (the protocol knows 3 client and
        // 4 server tags; 4 is unknown to a server), then any bytes. This
        // reaches every variant's field decoding, which random frames seldom do.
        let mut frame = Vec::new();
        let len = body.len() + 1;
        if len >= 0x80 {
            frame.push((len as u8) | 0x80);
            frame.push((len >> 7) as u8);
        } else {
            frame.push(len as u8);
        }
        frame.push(tag);
        frame.extend_from_slice(&body);
        let mut decoder = FrameDecoder::new();
        decoder.push(&frame);
        match decoder.decode::<ClientMessage>() {
            Ok(Some(message)) => {
                let decoded_tag = match message {
                    ClientMessage::Hello { .. } => 0,
                    ClientMessage::Ping { .. } => 1,
                    ClientMessage::Goodbye => 2,
                };
                prop_assert_eq!(decoded_tag, tag);
                // What was decoded encodes and decodes back to itself (not
                // always to these bytes: postcard also takes an overlong
                // varint, 0x80 0x00 for 0).
                let mut again = FrameDecoder::new();
                again.push(&encode_frame(&message).unwrap());
                prop_assert_eq!(again.decode::<ClientMessage>().unwrap(), Some(message));
            }
            Ok(None) => prop_assert!(false, "a complete frame was taken for a partial one"),
            Err(_) => {}
        }
        // Decoded in place, the same frame gives the same message or fails alike.
        let mut owned = FrameDecoder::new();
        owned.push(&frame);
        let mut in_place = FrameDecoder::new();
        in_place.push(&frame);
        match (owned.decode::<ClientMessage>(), in_place.decode_client_view()) {
            (Ok(message), Ok(view)) => prop_assert_eq!(message, view.map(|v| v.to_message())),
            (Err(owned), Err(in_place)) => prop_assert_eq!(owned.to_string(), in_place.to_string()),
            (owned, in_place) => prop_assert!(false, "{:?} against {:?}", owned, in_place),
        }
        let mut decoder = FrameDecoder::new();
        decoder.push(&frame);
        match decoder.decode::<ServerMessage>() {
            Ok(Some(message)) => {
                let decoded_tag = match message {
                    ServerMessage::Welcome { .. } => 0,
                    ServerMessage::Pong { .. } => 1,
                    ServerMessage::Drain { .. } => 2,
                    ServerMessage::Error { .. } => 3,
                };
                prop_assert_eq!(decoded_tag, tag);
            }
            Ok(None) => prop_assert!(false, "a complete frame was taken for a partial one"),
            Err(_) => {}
        }
        // Decoded in place by a client, the same frame gives the same message
        // or fails alike.
        let mut owned = FrameDecoder::new();
        owned.push(&frame);
        let mut in_place = FrameDecoder::new();
        in_place.push(&frame);
        match (owned.decode::<ServerMessage>(), in_place.decode_server_view()) {
            (Ok(message), Ok(view)) => prop_assert_eq!(message, view.map(|v| v.to_message())),
            (Err(owned), Err(in_place)) => prop_assert_eq!(owned.to_string(), in_place.to_string()),
            (owned, in_place) => prop_assert!(false, "{:?} against {:?}", owned, in_place),
        }
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
