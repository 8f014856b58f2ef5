//! Arbitrary bytes -> LineCodec frames -> Message::parse -> tags and params.
//!
//! Invariants checked:
//! - a `Frame::Line` is never empty, never contains '\r' or '\n', and is at
//!   most MAX_TAGS + MAX_LINE (8191 + 512) bytes;
//! - after `decode` returns None the buffer holds at most `MAX_BUFFER` bytes;
//! - feeding the input in one piece or in chunks gives the same frames
//!   whenever the buffer limit is never reached (input <= MAX_BUFFER bytes);
//!   the chunk size comes from the first byte, raised for long inputs so
//!   that one run rescans at most ~60,000 buffered bytes;
//! - parsing, tag unescaping and param access never panic, and a parsed
//!   command is non-empty and has no more than MAX_PARAMS params.
#![no_main]

use bytes::BytesMut;
use ircd::proto::Message;
use ircd::proto::codec::{Frame, LineCodec, MAX_BUFFER};
use ircd::proto::line::{MAX_LINE, MAX_TAGS};
use ircd::proto::message::MAX_PARAMS;
use libfuzzer_sys::fuzz_target;

/// Checks a frame's invariants; `parse`: and runs it through the parser.
fn check_frame(frame: &Frame, parse: bool) {
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
        if !parse {
            return;
        }
        if let Ok(s) = std::str::from_utf8(line)
            && let Ok(msg) = Message::parse(s)
        {
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

/// Decodes everything currently in `buf`. Only the whole-input pass parses
/// its frames: the chunked passes must give equal frames, so parsing them
/// again would test nothing new (and tripled the cost of a run).
fn drain(c: &mut LineCodec, buf: &mut BytesMut, out: &mut Vec<Frame>, parse: bool) {
    while let Some(frame) = c.decode(buf) {
        check_frame(&frame, parse);
        out.push(frame);
    }
    assert!(buf.len() <= MAX_BUFFER, "buffer kept {} bytes", buf.len());
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size; the rest is the stream.
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    // The whole stream at once, every frame parsed.
    let mut c = LineCodec::new();
    let mut buf = BytesMut::from(rest);
    let mut whole = Vec::new();
    drain(&mut c, &mut buf, &mut whole, true);

    // The same stream in chunks, as the connection reads it.
    // Every `decode` scans the whole pending buffer again (at most
    // MAX_BUFFER bytes), so small chunks of a long input cost
    // len / chunk * len scans; past a budget the chunk grows so that the
    // equivalence is still checked on every input at a bounded cost (a
    // 20 KB input with chunk 1 took 3 ms a run and held the target at 370
    // runs/s). Chunk 1 is still used for inputs up to 245 bytes.
    const BUDGET: usize = 60_000;
    let pending = rest.len().clamp(1, MAX_BUFFER);
    let chunk = (1 + first as usize * 64).max(rest.len() * pending / BUDGET);
    let mut c = LineCodec::new();
    let mut buf = BytesMut::new();
    let mut chunked = Vec::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        drain(&mut c, &mut buf, &mut chunked, false);
    }
    if rest.len() <= MAX_BUFFER {
        assert_eq!(chunked, whole, "chunked decoding differs");
    }
});
