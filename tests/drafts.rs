//! What bridges and modern clients need: the NICKLEN cut of nicks sent
//! before registration.

use crate::common::*;

// ---------------------------------------------------------------------------
// Nicks from bridges
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_nick_is_cut_before_registration_and_refused_after() {
    let srv = start("").await;
    let long = "Averyveryverylongdisplayname[m]-and-more";
    assert!(long.len() > 30);
    let mut c = srv.client().await;
    c.send(&format!("NICK {long}")).await;
    c.send("USER u 0 * :u").await;
    let welcome = c.expect("001").await;
    assert_eq!(welcome.params[0], &long[..30]);
    c.expect_match("end of MOTD", |m| m.command == "376" || m.command == "422")
        .await;
    // The same cut nick is taken: 433 names it.
    let mut d = srv.client().await;
    d.send(&format!("NICK {long}")).await;
    let m = d.expect("433").await;
    assert_eq!(m.params[1], &long[..30]);
    // Cut, then checked: a nick that is invalid within NICKLEN still is.
    d.send(&format!("NICK 1{long}")).await;
    assert_eq!(d.expect("432").await.params[1], &format!("1{long}")[..30]);
    // Registered: a too-long NICK is refused whole.
    c.send(&format!("NICK {long}x")).await;
    let m = c.expect("432").await;
    assert_eq!(m.params[1], format!("{long}x"));
    c.send(&format!("WHOIS {}", &long[..30])).await;
    assert_eq!(c.expect("311").await.params[1], &long[..30]);
}
