//! Unit tests of config parsing and validation.

use super::*;

#[test]
fn durations() {
    assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
    assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
    assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
    assert!(parse_duration("10").is_err());
    assert!(parse_duration("m").is_err());
    assert!(parse_duration("10w").is_err());
    assert!(parse_duration("99999999999999999999d").is_err());
    assert_eq!(format_duration(Duration::from_secs(1800)), "30m");
    assert_eq!(format_duration(Duration::from_secs(90)), "90s");
}

#[test]
fn debug_never_shows_the_server_password() {
    let c = Config::parse("[server]\npassword = \"s3cr3t-pw\"\n", None).unwrap();
    assert!(!format!("{c:?}").contains("s3cr3t-pw"));
    assert_eq!(
        c.server.password.as_ref().map(Secret::expose),
        Some("s3cr3t-pw")
    );
}

#[test]
fn defaults_serve_a_home_box() {
    let c = Config::defaults();
    assert_eq!(c.listen[0].address, "127.0.0.1:6667".parse().unwrap());
    assert_eq!(c.listen[1].tls, ListenTls::Default);
    assert!(c.services.enabled);
}

#[test]
fn errors_name_the_key() {
    let e = Config::parse("[server]\nnmae = \"x\"\n", None)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("server.nmae: unknown field"), "{e}");
    let e = Config::parse("[limits]\nping_timeout = \"5x\"\n", None)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("limits.ping_timeout:"), "{e}");
    let e = Config::parse("[[listen]]\naddress = \"nope\"\n", None)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("listen[0].address:"), "{e}");
    let e = Config::parse("[limits]\nnicklen = \"x\"\n", None)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("limits.nicklen:"), "{e}");
    let e = Config::parse("[server]\npassword = 12345\n", None)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("server.password:") && !e.contains("12345"),
        "{e}"
    );
    let e = Config::parse("[[oper]]\nname = \"a\"\npassword = \"hunter2\"\n", None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("oper[0].password") && !e.contains("hunter2"),
        "{e}"
    );
}

#[test]
fn all_errors_at_once() {
    let e = Config::parse("[limits]\nnicklen = 3\nping_timeout = \"x\"\n", None).unwrap_err();
    assert_eq!(e.0.len(), 2, "{e}");
}

#[test]
fn drafts_are_validated_with_their_keys() {
    let c = Config::defaults();
    assert_eq!(c.multiline.cap_value(), "max-bytes=4096,max-lines=100");
    assert!(c.relaymsg.is_relayed("alice/matrix") && !c.relaymsg.is_relayed("alice"));
    let e = Config::parse(
        "[multiline]\nmax_bytes = 100\nmax_lines = 0\ntimeout = \"0s\"\n[relaymsg]\nseparators = \"!\"\naccounts = [\"a b\"]\n[read_markers]\nmax_targets = 0\n",
        None,
    )
    .unwrap_err()
    .to_string();
    for key in [
        "multiline.max_bytes",
        "multiline.max_lines",
        "multiline.timeout",
        "relaymsg.separators",
        "relaymsg.accounts[0]",
        "read_markers.max_targets",
    ] {
        assert!(e.contains(key), "{key} not in {e}");
    }
    for bad in ["", "a", "1", " ", "#", ",", "*", "123456789/"] {
        let text = format!("[relaymsg]\nseparators = {bad:?}\n");
        assert!(Config::parse(&text, None).is_err(), "{bad:?} accepted");
    }
    let c = Config::parse("[relaymsg]\nseparators = \"/|\"\nenabled = true\n", None).unwrap();
    assert!(c.relaymsg.is_relayed("a|b"));
    let off = Config::parse("[relaymsg]\nenabled = false\n", None).unwrap();
    assert!(!off.relaymsg.is_relayed("a/b"));
}

#[test]
fn history_defaults_and_bounds() {
    let h = Config::defaults().history;
    assert!(h.enabled && !h.direct_messages);
    assert_eq!((h.lines, h.max_age), (1000, Duration::from_secs(86400)));
    let e = Config::parse(
        "[history]\nlines = 0\nmax_age = \"forever\"\nkeep = true\n",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("history.keep"), "{e}");
    let e = Config::parse("[history]\nlines = 0\nmax_age = \"forever\"\n", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("history.lines: 0 is outside 1..=100000"), "{e}");
    assert!(e.contains("history.max_age: \"forever\""), "{e}");
    let e = Config::parse("[history]\nmax_age = \"0s\"\n", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("history.max_age: must be at least 1s"), "{e}");
    let h = Config::parse("[history]\nlines = 5\nmax_age = \"1h\"\n", None)
        .unwrap()
        .history;
    assert_eq!((h.lines, h.request_limit()), (5, 5));
}
