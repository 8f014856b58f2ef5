//! The IRC message model and its nom parser.
//!
//! A [`Message`] borrows from the line it was parsed from: tags stay raw until a
//! caller asks for them (most commands never do), and parameters are slices of
//! the line. Parsing never allocates and never panics; anything it cannot make
//! sense of becomes a [`ParseError`] that the connection turns into a numeric.

use nom::{
    IResult, Parser,
    bytes::complete::{take_till, take_till1, take_while1},
    character::complete::char,
    combinator::{opt, rest, verify},
    sequence::{preceded, terminated},
};

/// The most parameters a message may carry (RFC 1459, 2.3).
pub const MAX_PARAMS: usize = 15;

/// One parsed line, borrowing from its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The raw tag section without its leading `@`, still escaped.
    pub tags: Option<&'a str>,
    /// The source (prefix) without its leading `:`.
    pub source: Option<&'a str>,
    /// The verb as sent; compare it with `eq_ignore_ascii_case`.
    pub command: &'a str,
    params: [&'a str; MAX_PARAMS],
    len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty line")]
    Empty,
    #[error("no command")]
    NoCommand,
    #[error("malformed message")]
    Malformed,
}

impl<'a> Message<'a> {
    /// Parses one line (without its line ending).
    pub fn parse(line: &'a str) -> Result<Self, ParseError> {
        let line = line.trim_start_matches(' ');
        if line.is_empty() {
            return Err(ParseError::Empty);
        }
        match message(line) {
            Ok((_, msg)) => Ok(msg),
            Err(_) => Err(ParseError::NoCommand),
        }
    }

    pub fn params(&self) -> &[&'a str] {
        &self.params[..self.len]
    }

    pub fn param(&self, i: usize) -> Option<&'a str> {
        self.params().get(i).copied()
    }

    /// Iterates the tags as (key, unescaped value) pairs; a key without a value
    /// gives an empty string, as the message-tags spec says.
    pub fn tags(&self) -> impl Iterator<Item = (&'a str, String)> {
        self.tags
            .into_iter()
            .flat_map(|t| t.split(';'))
            .filter(|t| !t.is_empty())
            .map(|t| match t.split_once('=') {
                Some((k, v)) => (k, unescape_tag_value(v)),
                None => (t, String::new()),
            })
    }
}

/// Whether `key` (without its `+` client prefix) is a valid tag key:
/// `[ <vendor> '/' ] <key_name>`, a vendor being a host name (letters,
/// digits, hyphens and dots) and a key name a non-empty run of letters,
/// digits and hyphens (the message-tags spec).
pub fn valid_tag_key(key: &str) -> bool {
    let (vendor, name) = match key.split_once('/') {
        Some((v, n)) => (Some(v), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let vendor_ok = vendor.is_none_or(|v| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    });
    name_ok && vendor_ok
}

/// The client-only tags (`+key[=value]`, still escaped) of a raw tag
/// section that are fit to relay: keys that are not valid are dropped, and
/// of a key given more than once only the last stays (the spec: "the last
/// value should be used"), in the order the client sent them. `allowed`
/// sees each key without its `+` (CLIENTTAGDENY). None when none is left.
pub fn relayable_client_tags(raw: &str, allowed: impl Fn(&str) -> bool) -> Option<String> {
    let key = |t: &str| t.split_once('=').map_or(t, |(k, _)| k).to_string();
    let mut tags: Vec<&str> = raw
        .split(';')
        .filter(|t| {
            t.strip_prefix('+').is_some_and(|t| {
                let k = t.split_once('=').map_or(t, |(k, _)| k);
                valid_tag_key(k) && allowed(k)
            })
        })
        .collect();
    if tags.len() > 1 {
        // Keep the last of each key: walk from the end, skip keys seen.
        let mut seen = std::collections::HashSet::with_capacity(tags.len());
        let mut kept: Vec<&str> = tags
            .iter()
            .rev()
            .filter(|t| seen.insert(key(t)))
            .copied()
            .collect();
        kept.reverse();
        tags = kept;
    }
    (!tags.is_empty()).then(|| tags.join(";"))
}

/// Undoes the message-tags value escaping (`\:` `\s` `\\` `\r` `\n`); an
/// invalid escape drops the backslash, a trailing lone backslash is dropped.
pub fn unescape_tag_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The inverse of [`unescape_tag_value`].
pub fn escape_tag_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn spaces(i: &str) -> IResult<&str, &str> {
    take_while1(|c| c == ' ')(i)
}

fn tags(i: &str) -> IResult<&str, &str> {
    terminated(preceded(char('@'), take_till(|c| c == ' ')), spaces).parse(i)
}

fn source(i: &str) -> IResult<&str, &str> {
    terminated(preceded(char(':'), take_till1(|c| c == ' ')), spaces).parse(i)
}

/// Any run of printable characters: `NONEXISTENT_COMMAND` is a command the
/// dispatcher answers with 421, not a malformed line.
fn command(i: &str) -> IResult<&str, &str> {
    verify(
        take_while1(|c: char| c != ' ' && !c.is_control()),
        |c: &str| !c.starts_with([':', '@']),
    )
    .parse(i)
}

fn message(i: &str) -> IResult<&str, Message<'_>> {
    let (i, tags) = opt(tags).parse(i)?;
    let (i, source) = opt(source).parse(i)?;
    let (mut i, command) = command(i)?;
    let mut msg = Message {
        tags,
        source,
        command,
        params: [""; MAX_PARAMS],
        len: 0,
    };
    // Parameters: space separated; a leading ':' (or the 15th parameter) takes
    // the rest of the line. Trailing spaces after the last middle are ignored.
    loop {
        let (after, sp) = opt(spaces).parse(i)?;
        if sp.is_none() {
            // Anything right after the command without a space (e.g.
            // "PRIVMSG\x01") is not a valid command.
            if !after.is_empty() {
                return Err(nom::Err::Error(nom::error::Error::new(
                    after,
                    nom::error::ErrorKind::Verify,
                )));
            }
            break;
        }
        i = after;
        if i.is_empty() {
            break;
        }
        if msg.len == MAX_PARAMS - 1 || i.starts_with(':') {
            let (after, trailing) = rest(i)?;
            let trailing = if msg.len == MAX_PARAMS - 1 {
                trailing.strip_prefix(':').unwrap_or(trailing)
            } else {
                &trailing[1..]
            };
            msg.params[msg.len] = trailing;
            msg.len += 1;
            i = after;
            break;
        }
        let (after, middle) = take_till1(|c| c == ' ').parse(i)?;
        msg.params[msg.len] = middle;
        msg.len += 1;
        i = after;
    }
    Ok((i, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> (Option<&str>, Option<&str>, &str, Vec<&str>) {
        let m = Message::parse(line).unwrap();
        (m.tags, m.source, m.command, m.params().to_vec())
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn table() {
        let cases: &[(&str, Option<&str>, Option<&str>, &str, &[&str])] = &[
            ("PING", None, None, "PING", &[]),
            ("PING x", None, None, "PING", &["x"]),
            (
                "PRIVMSG #a :hello world",
                None,
                None,
                "PRIVMSG",
                &["#a", "hello world"],
            ),
            ("PRIVMSG #a :", None, None, "PRIVMSG", &["#a", ""]),
            ("PRIVMSG #a ::)", None, None, "PRIVMSG", &["#a", ":)"]),
            (":n!u@h JOIN #c", None, Some("n!u@h"), "JOIN", &["#c"]),
            (
                "@a=b;c :src CMD x",
                Some("a=b;c"),
                Some("src"),
                "CMD",
                &["x"],
            ),
            ("CMD   a   b  ", None, None, "CMD", &["a", "b"]),
            ("  CMD a", None, None, "CMD", &["a"]),
            ("001 nick :Welcome", None, None, "001", &["nick", "Welcome"]),
            (
                "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
                None,
                None,
                "CMD",
                &[
                    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14",
                    "15 16",
                ],
            ),
        ];
        for (line, tags, source, cmd, params) in cases {
            assert_eq!(p(line), (*tags, *source, *cmd, params.to_vec()), "{line}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(Message::parse(""), Err(ParseError::Empty));
        assert_eq!(Message::parse("   "), Err(ParseError::Empty));
        assert_eq!(Message::parse(":src"), Err(ParseError::NoCommand));
        assert_eq!(Message::parse("@tags"), Err(ParseError::NoCommand));
        assert_eq!(Message::parse("PRIV\u{1}MSG x"), Err(ParseError::NoCommand));
        assert_eq!(
            Message::parse("NO_SUCH-CMD x").map(|m| m.command),
            Ok("NO_SUCH-CMD")
        );
        assert_eq!(Message::parse(":"), Err(ParseError::NoCommand));
    }

    #[test]
    fn client_tags_to_relay() {
        for ok in ["a", "a-b", "9", "-", "example.com/x", "a.b-c/d-e"] {
            assert!(valid_tag_key(ok), "{ok}");
        }
        for bad in [
            "", "a!b", "\u{e9}", "a_b", "/k", "v/", "a/b/c", "a b", "v_x/k",
        ] {
            assert!(!valid_tag_key(bad), "{bad}");
        }
        let all = |_: &str| true;
        assert_eq!(
            relayable_client_tags("+a=1;msgid=x;+b;+a=2;+=3;+c!d=4", all).as_deref(),
            Some("+b;+a=2")
        );
        assert_eq!(relayable_client_tags("time=x;+=1", all), None);
        assert_eq!(
            relayable_client_tags("+typing=active;+reply=1", |k| k != "typing").as_deref(),
            Some("+reply=1")
        );
    }

    #[test]
    fn tag_escapes() {
        let m = Message::parse(r"@a=x\sy\:z\\;b;c=\q\ CMD").unwrap();
        let tags: Vec<_> = m.tags().collect();
        assert_eq!(
            tags,
            vec![
                ("a", "x y;z\\".to_string()),
                ("b", String::new()),
                ("c", "q".to_string())
            ]
        );
        let mut s = String::new();
        escape_tag_value("x y;z\\\r\n", &mut s);
        assert_eq!(s, r"x\sy\:z\\\r\n");
    }
}
