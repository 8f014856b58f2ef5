//! glob_match on an arbitrary mask and text: must not panic or hang.
//!
//! The input (capped at 512 bytes, the longest a mask can be on the wire) is
//! split at the first NUL into mask and text; invalid UTF-8 is replaced.
//! Cheap sanity checks that follow from the glob semantics are asserted too.
#![no_main]

use ircd::proto::Casemapping;
use ircd::proto::mask::glob_match;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > 512 {
        return;
    }
    let (mask, text) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let mask = String::from_utf8_lossy(mask);
    let text = String::from_utf8_lossy(text);
    for cm in [Casemapping::Rfc1459, Casemapping::Ascii] {
        std::hint::black_box(glob_match(&mask, &text, cm));
        assert!(glob_match("*", &text, cm), "'*' must match anything");
        // Any string matches itself used as a mask ('*' and '?' match
        // themselves too).
        assert!(
            glob_match(&text, &text, cm),
            "text must match itself: {text:?}"
        );
    }
});
