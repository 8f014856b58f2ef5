//! Ping and registration timeouts, on tokio's paused clock (no sleeping).

use std::time::Duration;

use tokio::time::Instant;

use crate::common::*;

const LIMITS: &str =
    "[limits]\nping_interval = \"90s\"\nping_timeout = \"120s\"\nregistration_timeout = \"60s\"\n";

#[tokio::test(start_paused = true)]
async fn idle_client_is_pinged_then_timed_out() {
    let srv = start(LIMITS).await;
    let mut c = srv.user("idle").await;
    c.wait = Duration::from_secs(3600);
    let t0 = Instant::now();
    let ping = c.expect("PING").await;
    assert_eq!(ping.last(), "irc.test");
    let at = t0.elapsed();
    assert!(
        at >= Duration::from_secs(90) && at < Duration::from_secs(91),
        "pinged after {at:?}"
    );
    let closing = c.expect_closed().await;
    let err = closing
        .iter()
        .find(|m| m.command == "ERROR")
        .expect("ERROR before close");
    assert!(err.last().contains("Ping timeout: 120 seconds"), "{err:?}");
    let at = t0.elapsed();
    assert!(
        at >= Duration::from_secs(210) && at < Duration::from_secs(211),
        "closed after {at:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn answering_pings_keeps_the_connection() {
    let srv = start(LIMITS).await;
    let mut c = srv.user("lively").await;
    let mut peer = srv.user("peer").await;
    c.wait = Duration::from_secs(3600);
    peer.wait = Duration::from_secs(3600);
    for _ in 0..5 {
        let ping = c.expect("PING").await;
        c.send(&format!("PONG :{}", ping.last())).await;
        // The peer answers too, so that only `lively` is under test.
        peer.expect("PING").await;
        peer.send("PONG :irc.test").await;
    }
    let t0 = Instant::now();
    c.send("PING :alive").await;
    assert_eq!(c.expect("PONG").await.last(), "alive");
    assert!(t0.elapsed() < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn unregistered_client_is_dropped_after_the_registration_timeout() {
    let srv = start(LIMITS).await;
    let mut c = srv.client().await;
    c.wait = Duration::from_secs(3600);
    let t0 = Instant::now();
    c.send("NICK lingering").await;
    let closing = c.expect_closed().await;
    let err = closing
        .iter()
        .find(|m| m.command == "ERROR")
        .expect("ERROR before close");
    assert!(err.last().contains("Registration timed out"), "{err:?}");
    let at = t0.elapsed();
    assert!(
        at >= Duration::from_secs(60) && at < Duration::from_secs(61),
        "closed after {at:?}"
    );
    // Its nick is free again.
    let mut d = srv.client().await;
    d.register("lingering").await;
}
