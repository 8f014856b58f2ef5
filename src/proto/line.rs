//! The serializer: builds one outgoing line, CRLF included, never longer than
//! the protocol allows.
//!
//! Every line the server sends goes through [`Line`], so the 512-byte limit
//! (tags excluded) is enforced in exactly one place: a body that would be longer
//! is cut at a UTF-8 character boundary, never in the middle of a character.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{BufMut, Bytes, BytesMut};

/// How many middle parameters `Line::arg` had to write as `*` (a caller
/// that forgot [`middle`]): always 0 unless there is a bug. Tests read it
/// through [`repaired_middles`] to see the bug in release builds too.
static REPAIRED: AtomicU64 = AtomicU64::new(0);

/// See [`REPAIRED`].
pub fn repaired_middles() -> u64 {
    REPAIRED.load(Ordering::Relaxed)
}

/// The most bytes of a message, CRLF included, tags excluded (RFC 1459).
pub const MAX_LINE: usize = 512;
/// The most bytes of the tag section a client may send, `@` and space included.
pub const MAX_CLIENT_TAGS: usize = 4096;
/// The most bytes of the whole tag section, `@` and space included.
pub const MAX_TAGS: usize = 8191;

/// Builder for one outgoing line.
#[must_use]
pub struct Line {
    buf: BytesMut,
    /// Where the last parameter starts, to add a ':' when it needs one.
    last: Option<usize>,
    force_trailing: bool,
}

impl Line {
    pub fn new(source: Option<&str>, command: &str) -> Self {
        let mut buf = BytesMut::with_capacity(128);
        if let Some(src) = source {
            buf.put_u8(b':');
            buf.put_slice(src.as_bytes());
            buf.put_u8(b' ');
        }
        buf.put_slice(command.as_bytes());
        Line {
            buf,
            last: None,
            force_trailing: false,
        }
    }

    /// Appends a parameter. Only the last one may contain spaces, start with
    /// ':' or be empty; `build` then marks it as the trailing parameter.
    ///
    /// This refuses to build a malformed line: an earlier parameter that
    /// cannot be a middle one (see [`is_middle`]) is written `*` when the next
    /// one is appended, so a value never splits into two parameters or
    /// swallows the rest of the line. An empty one becomes `*` by design (a
    /// `*` placeholder is what IRC writes for "none"); a space or a leading
    /// ':' is a bug in the caller, which should have passed the value through
    /// [`middle`] (the handlers echo client input that way): debug builds,
    /// the fuzz targets included, panic on it so that it is found, and
    /// release builds write `*`, Ergo's `SafeErrorParam`, instead.
    pub fn arg(mut self, p: &str) -> Self {
        if let Some(at) = self.last {
            let prev = &self.buf[at..];
            if prev.is_empty() {
                self.buf.put_u8(b'*');
            } else if !is_middle(prev) {
                debug_assert!(
                    false,
                    "a middle parameter with a space or a leading ':' (use proto::line::middle)"
                );
                REPAIRED.fetch_add(1, Ordering::Relaxed);
                self.buf.truncate(at);
                self.buf.put_u8(b'*');
            }
        }
        self.buf.put_u8(b' ');
        self.last = Some(self.buf.len());
        self.buf.put_slice(p.as_bytes());
        self.force_trailing = false;
        self
    }

    /// Appends the last parameter, always written with ':' (free text).
    pub fn text(mut self, p: &str) -> Self {
        self = self.arg(p);
        self.force_trailing = true;
        self
    }

    pub fn args<'a>(mut self, ps: impl IntoIterator<Item = &'a str>) -> Self {
        for p in ps {
            self = self.arg(p);
        }
        self
    }

    /// Finishes the line: adds the trailing ':' where needed, cuts the body to
    /// 510 bytes on a character boundary and appends CRLF.
    pub fn build(mut self) -> Bytes {
        if let Some(at) = self.last {
            let p = &self.buf[at..];
            if self.force_trailing || p.is_empty() || p.contains(&b' ') || p[0] == b':' {
                // Insert ':' before the last parameter.
                let tail = self.buf.split_off(at);
                self.buf.put_u8(b':');
                self.buf.unsplit(tail);
            }
        }
        let max = MAX_LINE - 2;
        if self.buf.len() > max {
            let mut cut = max;
            while cut > 0 && (self.buf[cut] & 0xC0) == 0x80 {
                cut -= 1;
            }
            self.buf.truncate(cut);
        }
        self.buf.put_slice(b"\r\n");
        self.buf.freeze()
    }
}

/// Whether `p` can be written as a middle (not the last) parameter: not
/// empty, no space, no leading ':'.
pub fn is_middle(p: &[u8]) -> bool {
    p.first().is_some_and(|&c| c != b':') && !p.contains(&b' ')
}

/// A client's value echoed back in a middle position (a numeric naming the
/// channel or nick asked for): itself when it can be one, otherwise `*`
/// (Ergo's `SafeErrorParam`), so `JOIN :a b` is answered
/// `403 me * :No such channel`, never `403 me a b :No such channel`.
pub fn middle(p: &str) -> &str {
    if is_middle(p.as_bytes()) { p } else { "*" }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// Adds tags (`a=b;c`, escaped) to a built line, in front of any it has.
pub fn add_tags(tags: &str, line: &Bytes) -> Bytes {
    if tags.is_empty() {
        return line.clone();
    }
    let mut b = BytesMut::with_capacity(tags.len() + 2 + line.len());
    b.put_u8(b'@');
    b.put_slice(tags.as_bytes());
    match line.strip_prefix(b"@") {
        Some(rest) => {
            b.put_u8(b';');
            b.put_slice(rest);
        }
        None => {
            b.put_u8(b' ');
            b.put_slice(line);
        }
    }
    b.freeze()
}

/// Whether a built line carries the tag `key` (with or without a value).
pub fn has_tag(line: &[u8], key: &str) -> bool {
    let Some(tags) = line.strip_prefix(b"@") else {
        return false;
    };
    let end = tags.iter().position(|&b| b == b' ').unwrap_or(tags.len());
    tags[..end].split(|&b| b == b';').any(|t| {
        t.strip_prefix(key.as_bytes())
            .is_some_and(|rest| rest.is_empty() || rest[0] == b'=')
    })
}

/// Prepends a tag section (`@...` without the trailing space) to a built line.
pub fn with_tags(tags: &str, line: &Bytes) -> Bytes {
    if tags.is_empty() {
        return line.clone();
    }
    let mut b = BytesMut::with_capacity(tags.len() + 2 + line.len());
    b.put_u8(b'@');
    b.put_slice(tags.as_bytes());
    b.put_u8(b' ');
    b.put_slice(line);
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: Bytes) -> String {
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn tags_are_found_by_key_in_the_tag_section_only() {
        let l = b"@batch=b1;draft/multiline-concat;time=x :s PRIVMSG #c :batch=no\r\n";
        assert!(has_tag(l, "batch") && has_tag(l, "time"));
        assert!(has_tag(l, "draft/multiline-concat"));
        assert!(!has_tag(l, "bat") && !has_tag(l, "msgid"));
        assert!(!has_tag(b":s PRIVMSG #c :@batch=x\r\n", "batch"));
        assert!(!has_tag(b"@batchx=1 :s PING\r\n", "batch"));
    }

    #[test]
    fn trailing_only_when_needed() {
        assert_eq!(s(Line::new(None, "PING").arg("x").build()), "PING x\r\n");
        assert_eq!(
            s(Line::new(Some("srv"), "001")
                .arg("n")
                .arg("Hi there")
                .build()),
            ":srv 001 n :Hi there\r\n"
        );
        assert_eq!(s(Line::new(None, "X").arg("").build()), "X :\r\n");
        assert_eq!(s(Line::new(None, "X").arg(":)").build()), "X ::)\r\n");
        assert_eq!(s(Line::new(None, "X").text("word").build()), "X :word\r\n");
        assert_eq!(s(Line::new(None, "X").build()), "X\r\n");
    }

    #[test]
    fn middles() {
        assert_eq!(middle("#c"), "#c");
        assert_eq!(middle("a:b"), "a:b");
        for bad in ["", "a b", ":ab", ":", " ", "#c "] {
            assert_eq!(middle(bad), "*", "{bad:?}");
        }
        // An empty middle is written `*`.
        assert_eq!(
            s(Line::new(None, "X").arg("").arg("y").build()),
            "X * y\r\n"
        );
    }

    /// Release builds repair a middle parameter that would split the line
    /// (debug builds panic on it: a caller forgot `middle`).
    #[test]
    #[cfg(not(debug_assertions))]
    fn malformed_middles_are_never_written() {
        let before = repaired_middles();
        for bad in ["a b", ":ab", ":", "a  b "] {
            let l = s(Line::new(Some("srv"), "403")
                .arg("me")
                .arg(bad)
                .text("No such channel")
                .build());
            assert_eq!(l, ":srv 403 me * :No such channel\r\n", "{bad:?}");
            let l = s(Line::new(None, "X").arg(bad).arg("y").arg("z").build());
            assert_eq!(l, "X * y z\r\n", "{bad:?}");
        }
        assert!(repaired_middles() >= before + 8);
    }

    #[test]
    fn cut_at_char_boundary() {
        let long = "é".repeat(400);
        let b = Line::new(Some("n!u@h"), "PRIVMSG")
            .arg("#c")
            .text(&long)
            .build();
        assert!(b.len() <= MAX_LINE);
        assert!(b.ends_with(b"\r\n"));
        assert!(std::str::from_utf8(&b).is_ok());
    }
}
