//! The teaching frame codec agrees with tungstenite (the WebSocket
//! library under warp) both ways, and survives any input.

use std::io::Cursor;

use proptest::prelude::*;
use tungstenite::protocol::frame::coding::OpCode as TOpCode;
use tungstenite::protocol::frame::{Frame as TFrame, FrameHeader};
use wire::websocket::{decode, violation, DecodeError, Frame, OpCode};

/// Frames of every shape: any opcode value, FIN and RSV bits, masked
/// or not, with payload lengths around the 7/16/64-bit borders.
fn frames() -> impl Strategy<Value = Frame> {
    let len = prop_oneof![0usize..=130, 65530usize..=65540, Just(70_000usize)];
    (
        any::<bool>(),
        any::<[bool; 3]>(),
        0u8..16,
        proptest::option::of(any::<[u8; 4]>()),
        len,
        any::<u8>(),
    )
        .prop_map(|(fin, rsv, op, mask, len, seed)| Frame {
            fin,
            rsv,
            opcode: OpCode(op),
            mask,
            payload: (0..len)
                .map(|i| (i as u8).wrapping_mul(31) ^ seed)
                .collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Ours encodes, tungstenite reads the same header and payload.
    #[test]
    fn tungstenite_reads_what_we_write(frame in frames()) {
        let wire = frame.encode();
        let mut cursor = Cursor::new(&wire);
        if !frame.opcode.is_known() {
            // tungstenite refuses a reserved opcode as it parses; ours
            // decodes it, and `violation` names the broken rule.
            prop_assert!(FrameHeader::parse(&mut cursor).is_err());
            let from_client = frame.mask.is_some();
            let broken = violation(&frame, from_client).map(|v| v.0);
            prop_assert_eq!(broken, Some(1002));
            return Ok(());
        }
        let (header, len) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
        prop_assert_eq!(header.is_final, frame.fin);
        prop_assert_eq!([header.rsv1, header.rsv2, header.rsv3], frame.rsv);
        prop_assert_eq!(u8::from(header.opcode), frame.opcode.0);
        prop_assert_eq!(header.mask, frame.mask);
        prop_assert_eq!(len, frame.payload.len() as u64);
        // tungstenite unmasks: formatting a frame masks (XORs) its
        // payload with the key, so formatting the masked bytes with
        // the same key gives the plain payload back.
        let start = cursor.position() as usize;
        let masked = wire[start..].to_vec();
        let mut out = Vec::new();
        TFrame::from_payload(header.clone(), masked.into()).format(&mut out).unwrap();
        prop_assert_eq!(&out[header.len(len)..], &frame.payload[..]);
    }

    /// tungstenite encodes, ours reads the same frame back.
    #[test]
    fn we_read_what_tungstenite_writes(frame in frames()) {
        let header = FrameHeader {
            is_final: frame.fin,
            rsv1: frame.rsv[0],
            rsv2: frame.rsv[1],
            rsv3: frame.rsv[2],
            opcode: TOpCode::from(frame.opcode.0),
            mask: frame.mask,
        };
        let mut wire = Vec::new();
        let theirs = TFrame::from_payload(header, frame.payload.clone().into());
        theirs.format(&mut wire).unwrap();
        let decoded = decode(&wire, u64::MAX).unwrap().unwrap();
        prop_assert_eq!(&decoded.frame, &frame);
        prop_assert_eq!(decoded.wire_len(), wire.len());
        prop_assert_eq!(wire, frame.encode());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Any bytes at all: no panic, and never a payload over the limit.
    #[test]
    fn any_bytes_never_panic_or_pass_the_limit(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        max in 0u64..40,
    ) {
        match decode(&bytes, max) {
            Ok(Some(decoded)) => {
                prop_assert!(decoded.frame.payload.len() as u64 <= max);
                prop_assert!(decoded.wire_len() <= bytes.len());
            }
            Ok(None) => {}
            Err(DecodeError::TooLong { len, .. }) => prop_assert!(len > max),
            Err(DecodeError::HighBitSet) => {}
        }
    }
}
