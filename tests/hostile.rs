//! Regression tests for what a hostile run against the server found
//! (issue 13): each one failed before its fix.

use crate::common::*;

/// A connection that sends only `NICK squatted` and never registers used to
/// hold the nick until its registration timeout. Now the registering user
/// wins (InspIRCd's rule): the unregistered holder gets
/// `433 * <nick> :Nickname overruled.` and must pick another nick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_connection_cannot_squat_a_nick() {
    let srv = start("").await;
    let mut squatter = srv.client().await;
    squatter.send("NICK squatted").await;
    // The NICK is processed before the real user asks for the nick.
    assert!(squatter.sync().await.is_empty());
    let mut real = srv.client().await;
    real.send("NICK squatted").await;
    real.send("USER real 0 * :Real User").await;
    let welcome = real.expect("001").await;
    assert_eq!(welcome.params[0], "squatted");
    let overruled = squatter.expect("433").await;
    assert_eq!(overruled.params[1], "squatted", "{overruled:?}");
    // Finishing USER does not register the squatter under the lost nick.
    squatter.send("USER sq 0 * :Squatter").await;
    let after = squatter.sync().await;
    assert!(after.iter().all(|m| m.command != "001"), "{after:?}");
    // It can still register under a free nick.
    squatter.send("NICK other").await;
    assert_eq!(squatter.expect("001").await.params[0], "other");
    // A registered holder keeps its nick: a newcomer gets 433.
    let mut late = srv.client().await;
    late.send("NICK squatted").await;
    assert_eq!(late.expect("433").await.params[1], "squatted");
    // And a registered user changing nick also wins over a squatter.
    let mut squatter2 = srv.client().await;
    squatter2.send("NICK wanted").await;
    assert!(squatter2.sync().await.is_empty());
    real.send("NICK wanted").await;
    let nick = real.expect("NICK").await;
    assert_eq!(nick.last(), "wanted");
    assert_eq!(squatter2.expect("433").await.params[1], "wanted");
    real.send("WHOIS wanted").await;
    assert_eq!(real.expect("311").await.params[1], "wanted");
}
