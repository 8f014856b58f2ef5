//! Arbitrary bytes -> LineCodec frames -> Message::parse -> tags and params.
//!
//! Invariants checked:
//! - a `Frame::Line` is never empty, never contains '\r' or '\n', and is at
//!   most MAX_TAGS + MAX_LINE (8191 + 512) bytes;
//! - after `decode` returns None the buffer holds at most `MAX_BUFFER` bytes;
//! - feeding the input in one piece or in chunks gives the same frames
//!   whenever the buffer limit is never reached (input <= MAX_BUFFER bytes);
//! - parsing, tag unescaping and param access never panic, and a parsed
//!   command is non-empty and has no more than MAX_PARAMS params.
#![no_main]

use bytes::BytesMut;
use ircd::proto::Message;
use ircd::proto::codec::{Frame, LineCodec, MAX_BUFFER};
use ircd::proto::line::{MAX_LINE, MAX_TAGS};
use ircd::proto::message::MAX_PARAMS;
use libfuzzer_sys::fuzz_target;

fn check_frame(frame: &Frame) {
    if let Frame::Line(line) = frame {
        assert!(!line.is_empty(), "empty Frame::Line");
        assert!(
            !line.iter().any(|&b| b == b'\r' || b == b'\n'),
            "Frame::Line contains CR or LF: {line:?}"
        );
        assert!(
            line.len() <= MAX_TAGS + MAX_LINE,
            "Frame::Line of {} bytes",
            line.len()
        );
        if let Ok(s) = std::str::from_utf8(line) {
            if let Ok(msg) = Message::parse(s) {
                assert!(!msg.command.is_empty());
                assert!(msg.params().len() <= MAX_PARAMS);
                for (k, v) in msg.tags() {
                    std::hint::black_box((k, v));
                }
                for p in msg.params() {
                    std::hint::black_box(p);
                }
                std::hint::black_box((msg.source, msg.param(0)));
            }
        }
    }
}

/// Decodes everything currently in `buf`.
fn drain(c: &mut LineCodec, buf: &mut BytesMut, out: &mut Vec<Frame>) {
    while let Some(frame) = c.decode(buf) {
        check_frame(&frame);
        out.push(frame);
    }
    assert!(buf.len() <= MAX_BUFFER, "buffer kept {} bytes", buf.len());
}

fuzz_target!(|data: &[u8]| {
    // The whole input at once.
    let mut c = LineCodec::new();
    let mut buf = BytesMut::from(data);
    let mut whole = Vec::new();
    drain(&mut c, &mut buf, &mut whole);

    // The same input as a stream of chunks (size from the first byte), as the
    // connection reads it.
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let chunk = 1 + first as usize * 64;
    let mut c = LineCodec::new();
    let mut buf = BytesMut::new();
    let mut chunked = Vec::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        drain(&mut c, &mut buf, &mut chunked);
    }
    if rest.len() <= MAX_BUFFER {
        let mut c = LineCodec::new();
        let mut buf = BytesMut::from(rest);
        let mut expect = Vec::new();
        drain(&mut c, &mut buf, &mut expect);
        assert_eq!(chunked, expect, "chunked decoding differs");
    }
});
