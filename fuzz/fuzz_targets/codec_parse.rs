//! Arbitrary bytes -> LineCodec frames -> Message::parse -> tags and params.
//!
//! Invariants checked:
//! - a `Frame::Line` is never empty, never contains '\r' or '\n', and is at
//!   most MAX_TAGS + MAX_LINE (8191 + 512) bytes;
//! - after `decode` returns None the buffer holds at most `MAX_BUFFER` bytes
//!   and no line end (`has_line` agrees);
//! - feeding the input in one piece or in chunks gives the same frames
//!   whenever the buffer limit is never reached (input <= MAX_BUFFER bytes);
//!   the chunk size comes from the first byte (1 to 16,321 bytes), so the
//!   codec's remembered scan offset is checked at every chunk size;
//! - taking one frame per chunk (and the rest at the end) gives the same
//!   frames as taking them all after each chunk, whatever the input's size;
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
    assert!(!c.has_line(buf), "has_line after decode gave None");
}

/// After the last chunk: no line end was left behind (a full scan, once per
/// pass: after every chunk it would make a run quadratic again).
fn no_line_end(buf: &BytesMut) {
    assert!(
        !buf.iter().any(|&b| b == b'\r' || b == b'\n'),
        "a line end left behind"
    );
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
    no_line_end(&buf);

    // The same stream in chunks, as the connection reads it. `decode`
    // scans only the bytes it has not scanned yet, so even chunk 1 on a
    // long input costs one pass (before, every call rescanned the pending
    // buffer and long inputs needed a larger chunk to stay affordable).
    let chunk = 1 + first as usize * 64;
    let mut c = LineCodec::new();
    let mut buf = BytesMut::new();
    let mut chunked = Vec::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        drain(&mut c, &mut buf, &mut chunked, false);
    }
    no_line_end(&buf);
    if rest.len() <= MAX_BUFFER {
        assert_eq!(chunked, whole, "chunked decoding differs");
    }

    // The same chunks, but at most one frame taken per read, as the
    // session does when its flood bucket or send queue says wait: when
    // `decode` is called must not change what it gives.
    let mut c = LineCodec::new();
    let mut buf = BytesMut::new();
    let mut lagged = Vec::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        // (The buffer may hold many lines here: bounding those is the
        // session's recvq, not the codec.)
        if let Some(frame) = c.decode(&mut buf) {
            lagged.push(frame);
        }
    }
    drain(&mut c, &mut buf, &mut lagged, false);
    no_line_end(&buf);
    assert_eq!(lagged, chunked, "decoding depends on when decode is called");
});
