//! Line framing with the protocol's limits, over a byte buffer (no I/O).
//!
//! A line ends at LF, CRLF or a lone CR: a CR in the middle of a line would
//! otherwise be relayed to clients that treat it as a line end. Empty lines are
//! skipped. A line whose body exceeds 510 bytes, or whose tag data exceeds 4094
//! bytes, becomes [`Frame::TooLong`]: the caller answers 417 and the connection
//! lives on. A sender that never ends its line cannot grow the buffer past
//! [`MAX_BUFFER`]: the excess is discarded up to the next line end.

use bytes::{Buf, Bytes, BytesMut};

use super::line::{MAX_CLIENT_TAGS, MAX_LINE, MAX_TAGS};

/// The most bytes buffered while waiting for a line end.
pub const MAX_BUFFER: usize = MAX_TAGS + MAX_LINE;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One line without its line ending; may still contain NUL or invalid UTF-8.
    Line(Bytes),
    /// A line over the limits; its content is gone.
    TooLong,
}

/// Between two calls of [`LineCodec::decode`] the caller only appends to the
/// buffer, so the bytes already scanned for a line end need not be scanned
/// again: a client trickling a long line a byte at a time costs one byte of
/// scanning per read, not the whole pending line.
#[derive(Debug, Default)]
pub struct LineCodec {
    /// True while skipping the rest of an over-long line.
    discarding: bool,
    /// How many bytes at the buffer's start hold no line end.
    scanned: usize,
}

impl LineCodec {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next frame out of `buf`, or None when more bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        loop {
            let Some(end) = self.line_end(buf) else {
                let overflow = buf.len() > MAX_BUFFER;
                if overflow || self.discarding {
                    buf.clear();
                }
                // What is left holds no line end; an emptied buffer is
                // scanned from its start again.
                self.scanned = buf.len();
                if overflow && !self.discarding {
                    self.discarding = true;
                    return Some(Frame::TooLong);
                }
                return None;
            };
            self.scanned = 0;
            let line = buf.split_to(end).freeze();
            buf.advance(1);
            if self.discarding {
                self.discarding = false;
                continue;
            }
            if line.is_empty() {
                continue;
            }
            return Some(if too_long(&line) {
                Frame::TooLong
            } else {
                Frame::Line(line)
            });
        }
    }

    /// Whether `buf` holds a whole line (scanning only what decode has not).
    pub fn has_line(&self, buf: &[u8]) -> bool {
        self.line_end(buf).is_some()
    }

    fn line_end(&self, buf: &[u8]) -> Option<usize> {
        let from = self.scanned.min(buf.len());
        buf[from..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map(|i| from + i)
    }
}

fn too_long(line: &[u8]) -> bool {
    let (tags, body) = if line[0] == b'@' {
        match line.iter().position(|&b| b == b' ') {
            Some(sp) => (sp + 1, line.len() - sp - 1),
            None => (line.len(), 0),
        }
    } else {
        (0, line.len())
    };
    // Tag data is what lies between '@' and the space: at most 4094 bytes.
    tags > MAX_CLIENT_TAGS || body > MAX_LINE - 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<Frame> {
        let mut c = LineCodec::new();
        let mut buf = BytesMut::from(input);
        std::iter::from_fn(|| c.decode(&mut buf)).collect()
    }

    fn line(s: &str) -> Frame {
        Frame::Line(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn line_endings() {
        assert_eq!(
            frames(b"A\r\nB\nC\rD"),
            vec![line("A"), line("B"), line("C")]
        );
        assert_eq!(frames(b"\r\n\r\n\n"), vec![]);
        assert_eq!(frames(b"A\x00B\n"), vec![line("A\x00B")]);
    }

    #[test]
    fn limits() {
        let ok = format!("PRIVMSG #a :{}\r\n", "x".repeat(510 - 12));
        assert_eq!(frames(ok.as_bytes()).len(), 1);
        assert!(matches!(frames(ok.as_bytes())[0], Frame::Line(_)));
        let long = format!("PRIVMSG #a :{}\r\nPING x\r\n", "x".repeat(511 - 12));
        assert_eq!(
            frames(long.as_bytes()),
            vec![Frame::TooLong, line("PING x")]
        );
        let tags = format!("@+a={} PING x\r\n", "y".repeat(4090));
        assert!(matches!(frames(tags.as_bytes())[0], Frame::Line(_)));
        let tags = format!("@+a={} PING x\r\n", "y".repeat(4092));
        assert_eq!(frames(tags.as_bytes()), vec![Frame::TooLong]);
    }

    #[test]
    fn endless_line_is_bounded() {
        let mut c = LineCodec::new();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&vec![b'x'; MAX_BUFFER + 1]);
        assert_eq!(c.decode(&mut buf), Some(Frame::TooLong));
        assert!(buf.is_empty());
        buf.extend_from_slice(&vec![b'x'; 1000]);
        assert_eq!(c.decode(&mut buf), None);
        assert!(buf.is_empty());
        buf.extend_from_slice(b"xx\nPING y\n");
        assert_eq!(c.decode(&mut buf), Some(line("PING y")));
    }

    /// The caller may read more before it asks for the next frame (its
    /// flood bucket or send queue says wait): the line that ends the
    /// over-long one, and the lines after it, must still be found.
    #[test]
    fn lines_right_after_an_overflow_are_kept() {
        let mut c = LineCodec::new();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&vec![b'x'; MAX_BUFFER + 1]);
        assert_eq!(c.decode(&mut buf), Some(Frame::TooLong));
        buf.extend_from_slice(b"xx\nPING y\n");
        assert!(c.has_line(&buf));
        assert_eq!(c.decode(&mut buf), Some(line("PING y")));
        assert_eq!(c.decode(&mut buf), None);
    }

    #[test]
    fn trickled_bytes_are_scanned_once() {
        let mut c = LineCodec::new();
        let mut buf = BytesMut::new();
        for &b in b"PRIVMSG #a :hello" {
            buf.extend_from_slice(&[b]);
            assert_eq!(c.decode(&mut buf), None);
            assert!(!c.has_line(&buf));
            assert_eq!(c.scanned, buf.len());
        }
        buf.extend_from_slice(b"\r\nPI");
        assert!(c.has_line(&buf));
        assert_eq!(c.decode(&mut buf), Some(line("PRIVMSG #a :hello")));
        assert_eq!(c.decode(&mut buf), None);
        assert_eq!(c.scanned, 2);
        buf.extend_from_slice(b"NG x\n");
        assert_eq!(c.decode(&mut buf), Some(line("PING x")));
        assert_eq!(c.decode(&mut buf), None);
        assert_eq!(c.scanned, 0);
    }
}
