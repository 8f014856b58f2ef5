//! NickServ's nick protection and certificates over real connections:
//! CERT ADD/DEL/LIST and SASL EXTERNAL with a client certificate made by
//! rcgen; SET ENFORCE (warnings, the guest rename, the hold) on the paused
//! clock; RECOVER and RELEASE.

use std::{sync::Arc, time::Duration};

use base64::Engine;
use tokio::time::Instant;

use crate::common::*;

const FAST: &str = "[services]\nbcrypt_cost = 4\n";

/// A plaintext and a TLS listener (addrs[0], addrs[1]).
fn with_tls(extra: &str) -> String {
    format!(
        "{extra}\n[[listen]]\naddress = \"127.0.0.1:0\"\n\n[[listen]]\naddress = \"127.0.0.1:0\"\ntls = true\n"
    )
}

/// A client certificate and its SHA-256 fingerprint, as the server prints it.
struct ClientCert {
    der: Vec<u8>,
    key: Vec<u8>,
    fp: String,
}

fn client_cert(name: &str) -> ClientCert {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
    let der = ck.cert.der().to_vec();
    let fp = ring::digest::digest(&ring::digest::SHA256, &der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ClientCert {
        der,
        key: ck.key_pair.serialize_der(),
        fp,
    }
}

/// Connects over TLS showing `cert`.
async fn connect_with_cert(addr: std::net::SocketAddr, cert: &ClientCert) -> TestClient {
    use tokio_rustls::rustls::{
        self,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName},
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny))
        .with_client_auth_cert(
            vec![CertificateDer::from(cert.der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone())),
        )
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    TestClient::from_stream(Box::new(tls))
}

async fn ns(c: &mut TestClient, line: &str) -> Msg {
    c.send(&format!("NS {line}")).await;
    c.expect_match("NickServ NOTICE", |m| {
        m.command == "NOTICE" && m.nick() == "NickServ"
    })
    .await
}

/// SASL EXTERNAL before registration; the numeric it ends with (903/904).
async fn external(c: &mut TestClient, payload: &str) -> Msg {
    c.send("CAP LS 302").await;
    let ls = c.expect("CAP").await;
    assert!(ls.last().contains("sasl=PLAIN,EXTERNAL"), "{ls:?}");
    c.send("CAP REQ sasl").await;
    c.expect("CAP").await;
    c.send("AUTHENTICATE EXTERNAL").await;
    assert_eq!(c.expect("AUTHENTICATE").await.params, ["+"]);
    c.send(&format!("AUTHENTICATE {payload}")).await;
    c.expect_match("903 or 904", |m| m.command == "903" || m.command == "904")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_log_in_with_sasl_external() {
    let srv = start(&with_tls(FAST)).await;
    let (plain, tls) = (srv.addrs[0], srv.addrs[1]);
    let cert = client_cert("alice");
    let mut a = connect_with_cert(tls, &cert).await;
    a.register("alice").await;
    a.send("NS REGISTER pw").await;
    a.expect("900").await;
    a.sync().await;
    // ADD with no fingerprint takes the certificate of this connection.
    let added = ns(&mut a, "CERT ADD").await;
    assert!(added.last().contains(&cert.fp), "{added:?}");
    let list = ns(&mut a, "CERT LIST").await;
    assert!(list.last().contains("Certificates of alice: 1"), "{list:?}");
    let row = a.expect("NOTICE").await;
    assert_eq!(row.last(), cert.fp);
    let bad = ns(&mut a, "CERT ADD 12:34").await;
    assert!(bad.last().contains("not a SHA-256 fingerprint"), "{bad:?}");
    let dup = ns(&mut a, &format!("CERT ADD {}", cert.fp.to_uppercase())).await;
    assert!(dup.last().contains("already registered"), "{dup:?}");

    // The same certificate logs in before 001, with or without authzid.
    for payload in [
        "+".to_string(),
        base64::engine::general_purpose::STANDARD.encode("alice"),
    ] {
        let mut b = connect_with_cert(tls, &cert).await;
        let done = external(&mut b, &payload).await;
        assert_eq!(done.command, "903", "{done:?}");
        assert!(
            b.seen
                .iter()
                .any(|m| m.command == "900" && m.params[2] == "alice")
        );
        b.send("CAP END").await;
        b.register("alice_").await;
        b.send("WHOIS alice_").await;
        assert_eq!(b.expect("330").await.params[2], "alice");
    }
    // Refused: another account as authzid, no certificate, plaintext, an
    // unregistered certificate.
    let mut c = connect_with_cert(tls, &cert).await;
    let other = base64::engine::general_purpose::STANDARD.encode("bob");
    assert_eq!(external(&mut c, &other).await.command, "904");
    let mut d = TestClient::connect_tls(tls).await;
    assert_eq!(external(&mut d, "+").await.command, "904");
    let mut e = TestClient::connect(plain).await;
    assert_eq!(external(&mut e, "+").await.command, "904");
    let stranger = client_cert("mallory");
    let mut f = connect_with_cert(tls, &stranger).await;
    assert_eq!(external(&mut f, "+").await.command, "904");
    // Another account cannot take alice's certificate.
    let mut g = connect_with_cert(tls, &stranger).await;
    g.register("bob").await;
    g.send("NS REGISTER pw").await;
    g.expect("900").await;
    g.sync().await;
    let taken = ns(&mut g, &format!("CERT ADD {}", cert.fp)).await;
    assert!(taken.last().contains("already registered"), "{taken:?}");
    // WHOIS shows the fingerprint (276) to its owner, not to another user.
    a.send("WHOIS alice").await;
    let own = a.sync().await;
    let fp = own
        .iter()
        .find(|m| m.command == "276")
        .expect("276 to its owner");
    assert_eq!(fp.params[1], "alice");
    assert_eq!(
        fp.last(),
        format!("has client certificate fingerprint {}", cert.fp)
    );
    g.send("WHOIS alice").await;
    let other = g.sync().await;
    assert!(other.iter().any(|m| m.command == "318"), "{other:?}");
    assert!(!other.iter().any(|m| m.command == "276"), "{other:?}");

    let gone = ns(&mut a, &format!("CERT DEL {}", cert.fp)).await;
    assert!(gone.last().contains("removed"), "{gone:?}");
    let again = ns(&mut a, &format!("CERT DEL {}", cert.fp)).await;
    assert!(again.last().contains("not on your account"), "{again:?}");
    let mut h = connect_with_cert(tls, &cert).await;
    assert_eq!(external(&mut h, "+").await.command, "904");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_holds_at_most_ten_certificates() {
    let srv = start(FAST).await;
    let mut a = srv.user("alice").await;
    a.send("NS REGISTER pw").await;
    a.expect("900").await;
    a.sync().await;
    for i in 0..10 {
        let fp = format!("{i:02}").repeat(32);
        let m = ns(&mut a, &format!("CERT ADD {fp}")).await;
        assert!(m.last().contains("added"), "{m:?}");
    }
    let full = ns(&mut a, &format!("CERT ADD {}", "ff".repeat(32))).await;
    assert!(full.last().contains("10 certificates"), "{full:?}");
    let none = ns(&mut a, "CERT ADD").await;
    assert!(
        none.last().contains("not using a TLS client certificate"),
        "{none:?}"
    );
}

fn enforce_config() -> String {
    format!(
        "{FAST}enforce_grace = \"30s\"\nenforce_hold = \"60s\"\n\
         [limits]\nping_interval = \"1h\"\nping_timeout = \"1h\"\n"
    )
}

/// alice registers with ENFORCE on, then leaves the nick.
async fn enforced_alice(srv: &TestServer) -> TestClient {
    let mut a = srv.user("alice").await;
    a.wait = Duration::from_secs(3600);
    a.send("NS REGISTER pw").await;
    a.expect("900").await;
    a.sync().await;
    let on = ns(&mut a, "SET ENFORCE ON").await;
    assert!(on.last().contains("ENFORCE is on"), "{on:?}");
    let info = ns(&mut a, "INFO").await;
    assert!(info.last().contains("Information on alice"), "{info:?}");
    a.expect_match("enforce shown", |m| m.last().contains("ENFORCE: on"))
        .await;
    a.send("NICK alice_away").await;
    a.expect("NICK").await;
    a
}

#[tokio::test(start_paused = true)]
async fn enforce_warns_then_renames_and_holds_the_nick() {
    let srv = start(&enforce_config()).await;
    let mut owner = enforced_alice(&srv).await;
    let mut m = srv.client().await;
    m.wait = Duration::from_secs(3600);
    let t0 = Instant::now();
    m.register("alice").await;
    let warned = m.expect_match("warning", |m| m.nick() == "NickServ").await;
    assert!(warned.last().contains("within 30s"), "{warned:?}");
    let half = m
        .expect_match("second warning", |m| m.nick() == "NickServ")
        .await;
    assert!(half.last().contains("15s left"), "{half:?}");
    let at = t0.elapsed();
    assert!(
        at >= Duration::from_secs(15) && at < Duration::from_secs(16),
        "{at:?}"
    );
    let nick = m.expect("NICK").await;
    let guest = nick.params[0].clone();
    assert!(guest.starts_with("Guest"), "{nick:?}");
    assert_eq!(nick.nick(), "alice");
    let at = t0.elapsed();
    assert!(
        at >= Duration::from_secs(30) && at < Duration::from_secs(31),
        "{at:?}"
    );
    // Held for its owner: others get 433 for a minute, the owner does not.
    m.send("NICK alice").await;
    assert_eq!(m.expect("433").await.params[1], "alice");
    let mut late = srv.client().await;
    late.send("NICK alice").await;
    late.expect("433").await;
    owner.send("NICK alice").await;
    assert_eq!(owner.expect("NICK").await.params[0], "alice");
    owner.send("NICK alice_away").await;
    owner.expect("NICK").await;
    // RELEASE frees it at once.
    let released = ns(&mut owner, "RELEASE alice").await;
    assert!(released.last().contains("released"), "{released:?}");
    let not_held = ns(&mut owner, "RELEASE alice").await;
    assert!(not_held.last().contains("not held"), "{not_held:?}");
    m.send("NICK alice").await;
    assert_eq!(m.expect("NICK").await.params[0], "alice");
    // Identifying within the grace period stops it.
    m.expect_match("warning again", |m| m.nick() == "NickServ")
        .await;
    m.send("NS IDENTIFY pw").await;
    m.expect("900").await;
    m.sync().await;
    let t1 = Instant::now();
    let mark = m.seen.len();
    // Nothing happens at the deadline: a line sent after it comes back
    // without a NICK or a warning before it.
    tokio::time::sleep_until(t1 + Duration::from_secs(40)).await;
    m.send("PING :later").await;
    assert_eq!(m.expect("PONG").await.last(), "later");
    assert!(
        !m.seen[mark..]
            .iter()
            .any(|l| l.command == "NICK" || l.nick() == "NickServ"),
        "{:?}",
        &m.seen[mark..]
    );
}

#[tokio::test(start_paused = true)]
async fn a_nick_change_away_cancels_enforcement() {
    let srv = start(&enforce_config()).await;
    let _owner = enforced_alice(&srv).await;
    let mut m = srv.client().await;
    m.wait = Duration::from_secs(3600);
    m.register("alice").await;
    m.expect_match("warning", |m| m.nick() == "NickServ").await;
    m.send("NICK mallory").await;
    m.expect("NICK").await;
    let mark = m.seen.len();
    let t0 = Instant::now();
    tokio::time::sleep_until(t0 + Duration::from_secs(60)).await;
    m.send("PING :still").await;
    m.expect("PONG").await;
    assert!(
        !m.seen[mark..]
            .iter()
            .any(|l| l.command == "NICK" || l.nick() == "NickServ"),
        "{:?}",
        &m.seen[mark..]
    );
    // Without ENFORCE, nobody is warned.
    let mut b = srv.user("bob").await;
    b.send("NS REGISTER pw").await;
    b.expect("900").await;
    b.sync().await;
    b.send("NICK bob_").await;
    b.expect("NICK").await;
    let mut c = srv.client().await;
    c.register("bob").await;
    c.send("PING :x").await;
    c.expect("PONG").await;
    assert!(
        !c.seen.iter().any(|l| l.nick() == "NickServ"),
        "{:?}",
        c.seen
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_takes_a_nick_back_from_an_impostor() {
    let srv = start(FAST).await;
    let mut a = srv.user("alice").await;
    a.send("NS REGISTER pw").await;
    a.expect("900").await;
    a.sync().await;
    a.send("QUIT").await;
    a.expect_closed().await;
    let mut imp = srv.user("alice").await;
    let mut me = srv.user("alice2").await;
    let refused = ns(&mut me, "RECOVER alice").await;
    assert!(refused.last().contains("add its password"), "{refused:?}");
    let wrong = ns(&mut me, "RECOVER alice nope").await;
    assert!(wrong.last().contains("Invalid password"), "{wrong:?}");
    let unknown = ns(&mut me, "RECOVER nobody pw").await;
    assert!(unknown.last().contains("not registered"), "{unknown:?}");
    me.send("NS RECOVER alice pw").await;
    // The impostor is renamed to a guest nick; the caller is logged in
    // and gets the nick.
    let renamed = imp.expect("NICK").await;
    assert!(renamed.params[0].starts_with("Guest"), "{renamed:?}");
    me.expect("900").await;
    let mine = me.expect("NICK").await;
    assert_eq!((mine.nick(), mine.params[0].as_str()), ("alice2", "alice"));
    let done = me
        .expect_match("recovered", |m| m.nick() == "NickServ")
        .await;
    assert!(done.last().contains("recovered alice"), "{done:?}");
    me.send("WHOIS alice").await;
    assert_eq!(me.expect("330").await.params[2], "alice");
    let already = ns(&mut me, "RECOVER alice").await;
    assert!(already.last().contains("already use"), "{already:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chanserv_restricted_and_keeptopic() {
    let srv = start(FAST).await;
    let mut erin = srv.user("erin").await;
    erin.send("NS REGISTER pw").await;
    erin.expect("900").await;
    erin.send("JOIN #club").await;
    erin.expect("366").await;
    erin.send("CS REGISTER #club").await;
    erin.expect_match("registered", |m| m.last().contains("registered to you"))
        .await;
    let mut frank = srv.user("frank").await;
    frank.send("NS REGISTER pw").await;
    frank.expect("900").await;
    frank.sync().await;
    // Only the founder may change settings.
    let no = cs(&mut frank, "SET #club RESTRICTED ON").await;
    assert!(no.last().contains("not the founder"), "{no:?}");
    let bad = cs(&mut erin, "SET #club RESTRICTED maybe").await;
    assert!(bad.last().contains("ON|OFF"), "{bad:?}");
    let on = cs(&mut erin, "SET #club RESTRICTED ON").await;
    assert!(on.last().contains("RESTRICTED is set"), "{on:?}");
    // Not on the access list: kicked on join, with the reason.
    let mut guest = srv.user("guest").await;
    for c in [&mut guest, &mut frank] {
        c.send("JOIN #club").await;
        let k = c
            .expect_match("kick", |m| m.command == "KICK" && m.nick() == "ChanServ")
            .await;
        assert!(k.last().contains("restricted to its access list"), "{k:?}");
    }
    erin.send("CS FLAGS #club frank +V").await;
    erin.expect_match("flags", |m| m.last().contains("Flags of frank"))
        .await;
    frank.send("JOIN #club").await;
    frank
        .expect_match("auto-voice", |m| m.command == "MODE" && m.params[1] == "+v")
        .await;
    let off = cs(&mut erin, "SET #club RESTRICTED OFF").await;
    assert!(off.last().contains("RESTRICTED is set"), "{off:?}");
    guest.send("JOIN #club").await;
    guest.expect("366").await;
    // KEEPTOPIC shows in INFO.
    let off = cs(&mut erin, "SET #club KEEPTOPIC OFF").await;
    assert!(off.last().contains("KEEPTOPIC is set"), "{off:?}");
    erin.send("CS INFO #club").await;
    erin.expect_match("settings", |m| {
        m.last() == "KEEPTOPIC: off; RESTRICTED: off"
    })
    .await;
}

async fn cs(c: &mut TestClient, line: &str) -> Msg {
    c.sync().await;
    c.send(&format!("CS {line}")).await;
    c.expect_match("ChanServ NOTICE", |m| {
        m.command == "NOTICE" && m.nick() == "ChanServ"
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeptopic_off_stores_no_topic_across_a_restart() {
    let mut p = crate::binary::spawn(FAST, &[]);
    let mut a = TestClient::connect(p.addr()).await;
    a.register("gina").await;
    a.send("NS REGISTER pw").await;
    a.expect("900").await;
    for (chan, keep) in [("#kept", "ON"), ("#unkept", "OFF")] {
        a.send(&format!("JOIN {chan}")).await;
        a.expect("366").await;
        a.send(&format!("CS REGISTER {chan}")).await;
        a.expect_match("registered", |m| m.last().contains("registered to you"))
            .await;
        let set = cs(&mut a, &format!("SET {chan} KEEPTOPIC {keep}")).await;
        assert!(set.last().contains("is set"), "{set:?}");
        a.send(&format!("TOPIC {chan} :topic-of-{chan}")).await;
        a.expect("TOPIC").await;
        a.send(&format!("MODE {chan} +m")).await;
        a.expect("MODE").await;
    }
    a.sync().await;
    p.signal("-TERM");
    a.expect_closed().await;
    assert!(p.wait().success());
    let store = std::fs::read(p.dir.path().join("data/accounts.redb")).unwrap();
    let text = String::from_utf8_lossy(&store);
    assert!(text.contains("topic-of-#kept"));
    assert!(
        !text.contains("topic-of-#unkept"),
        "KEEPTOPIC OFF wrote the topic"
    );
    let q = crate::binary::respawn(p);
    let mut b = TestClient::connect(q.addr()).await;
    b.register("gina").await;
    b.send("TOPIC #kept").await;
    assert_eq!(b.expect("332").await.last(), "topic-of-#kept");
    b.send("TOPIC #unkept").await;
    b.expect("331").await;
    // The modes were kept either way.
    b.send("MODE #unkept").await;
    assert!(b.expect("324").await.params[2].contains('m'));
}
