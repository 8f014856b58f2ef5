//! The ircdocs parser-tests vectors (../shared/parser-tests, CC0) run
//! against the server's parser, serializer, mask matching and hostname
//! validation, plus a property test: parse(serialize(m)) == m.

use std::{collections::BTreeMap, path::PathBuf};

use ircd::proto::{Casemapping, Line, Message, mask};
use proptest::prelude::*;
use serde::Deserialize;

fn vectors(name: &str) -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/parser-tests")
        .join(name);
    std::fs::read_to_string(p).ok()
}

#[derive(Deserialize)]
struct Split {
    tests: Vec<SplitCase>,
}
#[derive(Deserialize)]
struct SplitCase {
    input: String,
    atoms: Atoms,
}
#[derive(Deserialize, Default)]
struct Atoms {
    #[serde(default)]
    tags: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    source: Option<String>,
    verb: String,
    #[serde(default)]
    params: Vec<String>,
}

#[test]
fn msg_split() {
    let Some(text) = vectors("msg-split.yaml") else {
        return;
    };
    let cases: Split = serde_yaml::from_str(&text).unwrap();
    assert!(cases.tests.len() > 20);
    for c in cases.tests {
        let m = Message::parse(&c.input).unwrap_or_else(|e| panic!("{:?}: {e}", c.input));
        assert_eq!(m.command, c.atoms.verb, "{:?}", c.input);
        assert_eq!(
            m.source.map(str::to_string),
            c.atoms.source,
            "{:?}",
            c.input
        );
        let params: Vec<String> = m.params().iter().map(|s| s.to_string()).collect();
        assert_eq!(params, c.atoms.params, "{:?}", c.input);
        let tags: BTreeMap<String, String> = m.tags().map(|(k, v)| (k.to_string(), v)).collect();
        let want: BTreeMap<String, String> = c
            .atoms
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        assert_eq!(tags, want, "{:?}", c.input);
    }
}

#[derive(Deserialize)]
struct Join {
    tests: Vec<JoinCase>,
}
#[derive(Deserialize)]
struct JoinCase {
    atoms: Atoms,
    matches: Vec<String>,
}

#[test]
fn msg_join() {
    let Some(text) = vectors("msg-join.yaml") else {
        return;
    };
    let cases: Join = serde_yaml::from_str(&text).unwrap();
    for c in cases.tests {
        if c.atoms.tags.is_some() {
            continue; // The server never serializes client tags from atoms.
        }
        let mut line = Line::new(c.atoms.source.as_deref(), &c.atoms.verb);
        for p in &c.atoms.params {
            line = line.arg(p);
        }
        let out = String::from_utf8(line.build().to_vec()).unwrap();
        let out = out.trim_end_matches("\r\n");
        // Our serializer uses ':' only where needed: compare parsed forms.
        let ours = Message::parse(out).unwrap();
        let theirs = Message::parse(&c.matches[0]).unwrap();
        assert_eq!(ours, theirs, "{out:?} vs {:?}", c.matches);
    }
}

#[derive(Deserialize)]
struct Userhost {
    tests: Vec<UserhostCase>,
}
#[derive(Deserialize)]
struct UserhostCase {
    source: String,
    atoms: BTreeMap<String, String>,
}

#[test]
fn userhost_split() {
    let Some(text) = vectors("userhost-split.yaml") else {
        return;
    };
    let cases: Userhost = serde_yaml::from_str(&text).unwrap();
    for c in cases.tests {
        let (n, u, h) = mask::split_userhost(&c.source);
        let get = |k: &str| c.atoms.get(k).cloned().unwrap_or_default();
        assert_eq!(
            (n.to_string(), u.to_string(), h.to_string()),
            (get("nick"), get("user"), get("host")),
            "{}",
            c.source
        );
    }
}

#[derive(Deserialize)]
struct Masks {
    tests: Vec<MaskCase>,
}
#[derive(Deserialize)]
struct MaskCase {
    mask: String,
    matches: Vec<String>,
    fails: Vec<String>,
}

#[test]
fn mask_match() {
    let Some(text) = vectors("mask-match.yaml") else {
        return;
    };
    let cases: Masks = serde_yaml::from_str(&text).unwrap();
    for c in cases.tests {
        for m in &c.matches {
            assert!(
                mask::glob_match(&c.mask, m, Casemapping::Rfc1459),
                "{} should match {m}",
                c.mask
            );
        }
        for f in &c.fails {
            assert!(
                !mask::glob_match(&c.mask, f, Casemapping::Rfc1459),
                "{} should not match {f}",
                c.mask
            );
        }
    }
}

#[derive(Deserialize)]
struct Hosts {
    tests: Vec<HostCase>,
}
#[derive(Deserialize)]
struct HostCase {
    host: String,
    valid: bool,
}

#[test]
fn validate_hostname() {
    let Some(text) = vectors("validate-hostname.yaml") else {
        return;
    };
    let cases: Hosts = serde_yaml::from_str(&text).unwrap();
    for c in cases.tests {
        assert_eq!(mask::valid_hostname(&c.host), c.valid, "{}", c.host);
    }
}

fn middle() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9#&@!*._-][a-zA-Z0-9#&@!*:._-]{0,15}"
}

proptest! {
    #[test]
    fn parse_of_serialize_is_identity(
        source in proptest::option::of("[a-z]{1,8}![a-z]{1,8}@[a-z.]{1,12}"),
        verb in "[A-Z]{1,10}|[0-9]{3}",
        mids in proptest::collection::vec(middle(), 0..10),
        trailing in proptest::option::of("[ -~]{0,60}"),
    ) {
        let mut line = Line::new(source.as_deref(), &verb);
        let mut want: Vec<String> = mids.clone();
        for m in &mids {
            line = line.arg(m);
        }
        if let Some(t) = &trailing {
            line = line.text(t);
            want.push(t.clone());
        }
        let bytes = line.build();
        let s = std::str::from_utf8(&bytes).unwrap().trim_end_matches("\r\n");
        let m = Message::parse(s).unwrap();
        prop_assert_eq!(m.command, verb.as_str());
        prop_assert_eq!(m.source, source.as_deref());
        let got: Vec<String> = m.params().iter().map(|p| p.to_string()).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn parser_and_codec_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut codec = ircd::proto::codec::LineCodec::new();
        let mut buf = bytes::BytesMut::from(&bytes[..]);
        while let Some(f) = codec.decode(&mut buf) {
            if let ircd::proto::codec::Frame::Line(l) = f
                && let Ok(s) = std::str::from_utf8(&l)
            {
                let _ = Message::parse(s);
            }
        }
    }
}
