//! Connection classes: each limit refuses with its exact ERROR text (per
//! address, per network, IPv6 per prefix, class full, connection rate, the
//! global ceiling), per-class flood, recvq and ping values, a TLS class, an
//! account class taken after SASL, and a rehash that changes the limits of
//! new connections only.

use std::{net::SocketAddr, time::Duration};

use tokio::{io::AsyncWriteExt, net::TcpStream, time::Instant};

use crate::common::{TestClient, TestServer, config_text, start, start_with};

/// A client behind a PROXY v1 header giving `ip` (v4 or v6).
async fn via_proxy(addr: SocketAddr, ip: &str) -> TestClient {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let family = if ip.contains(':') { "TCP6" } else { "TCP4" };
    let dst = if ip.contains(':') { "::1" } else { "127.0.0.1" };
    s.write_all(format!("PROXY {family} {ip} {dst} 40000 6667\r\n").as_bytes())
        .await
        .unwrap();
    TestClient::from_stream(Box::new(s))
}

/// The one ERROR line a refused connection gets before it is closed.
async fn refusal(mut c: TestClient) -> String {
    let lines = c.expect_closed().await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].command, "ERROR");
    lines[0].last().to_string()
}

const PROXY_LISTENERS: &str =
    "[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"127.0.0.1:0\"\nproxy = true\n";

const NO_PINGS: &str = "[limits]\nping_interval = \"1h\"\nping_timeout = \"1h\"\n";

#[tokio::test]
async fn per_address_per_network_ipv6_prefix_and_class_full() {
    let srv = start(&format!(
        "{PROXY_LISTENERS}
[[class]]
name = \"netlimited\"
cidrs = [\"192.0.2.0/24\"]
per_ip = 2
per_cidr = 3
cidr_ipv4_prefix = 24
[[class]]
name = \"v6\"
cidrs = [\"2001:db8::/32\"]
per_ip = 1
ipv6_prefix = 64
[[class]]
name = \"small\"
cidrs = [\"198.51.100.0/24\"]
max_clients = 2
per_ip = 0
"
    ))
    .await;
    let p = srv.addrs[1];
    let mut kept = Vec::new();
    for (i, ip) in ["192.0.2.1", "192.0.2.1", "192.0.2.2"].iter().enumerate() {
        let mut c = via_proxy(p, ip).await;
        c.register(&format!("n{i}")).await;
        kept.push(c);
    }
    assert_eq!(
        refusal(via_proxy(p, "192.0.2.1").await).await,
        "Closing Link: 192.0.2.1 (too many host connections)"
    );
    assert_eq!(
        refusal(via_proxy(p, "192.0.2.3").await).await,
        "Closing Link: 192.0.2.3 (too many host connections from your network)"
    );
    // IPv6 counts per /64.
    let mut a = via_proxy(p, "2001:db8::1").await;
    a.register("six").await;
    assert_eq!(
        refusal(via_proxy(p, "2001:db8::2").await).await,
        "Closing Link: 2001:db8::2 (too many host connections)"
    );
    let mut b = via_proxy(p, "2001:db8:0:1::1").await;
    b.register("sixb").await;
    // A full class, whatever the addresses.
    let mut s1 = via_proxy(p, "198.51.100.1").await;
    s1.register("s1").await;
    let mut s2 = via_proxy(p, "198.51.100.2").await;
    s2.register("s2").await;
    assert_eq!(
        refusal(via_proxy(p, "198.51.100.3").await).await,
        "Closing Link: 198.51.100.3 (server full: the small class is full)"
    );
    s1.send("QUIT").await;
    s1.expect_closed().await;
    via_proxy(p, "198.51.100.3").await.register("s3").await;
    // Addresses no class matches are in the default class (loopback exempt).
    for i in 0..20 {
        srv.user(&format!("local{i}")).await;
    }
}

#[tokio::test]
async fn a_bridge_network_gets_high_limits_others_the_default() {
    let srv = start(&format!(
        "{PROXY_LISTENERS}[connections]\nexempt = []\nper_ip = 2\n
[[class]]
name = \"bridge\"
cidrs = [\"192.0.2.10/32\"]
per_ip = 100
connections_per_minute = 0
flood_exempt = true
"
    ))
    .await;
    let p = srv.addrs[1];
    let mut bridged = Vec::new();
    for i in 0..60 {
        let mut c = via_proxy(p, "192.0.2.10").await;
        c.register(&format!("m{i}")).await;
        bridged.push(c);
    }
    let mut o1 = via_proxy(p, "203.0.113.1").await;
    o1.register("o1").await;
    let mut o2 = via_proxy(p, "203.0.113.1").await;
    o2.register("o2").await;
    assert_eq!(
        refusal(via_proxy(p, "203.0.113.1").await).await,
        "Closing Link: 203.0.113.1 (too many host connections)"
    );
}

#[tokio::test(start_paused = true)]
async fn connection_rate_per_class() {
    let srv = start(&format!(
        "{NO_PINGS}[[class]]\nname = \"rate\"\ncidrs = [\"127.0.0.0/8\"]\nper_ip = 0\nconnections_per_minute = 2\n"
    ))
    .await;
    let _a = srv.user("a").await;
    let _b = srv.user("b").await;
    assert_eq!(
        refusal(srv.client().await).await,
        "Closing Link: 127.0.0.1 (throttled: reconnecting too fast)"
    );
    tokio::time::sleep(Duration::from_secs(61)).await;
    let _c = srv.user("c").await;
}

#[tokio::test]
async fn the_global_ceiling_refuses_before_descriptors_run_out() {
    let srv = start("[limits]\nmax_connections = 2\n").await;
    let mut a = srv.user("a").await;
    // An unregistered connection holds a slot too.
    let _b = srv.client().await;
    assert_eq!(
        refusal(srv.client().await).await,
        "Closing Link: 127.0.0.1 (server full: too many connections)"
    );
    a.send("QUIT").await;
    a.expect_closed().await;
    let _c = srv.user("c").await;
}

/// How long after `t` the 20th PONG of a burst of 20 PINGs arrives.
async fn burst(c: &mut TestClient) -> Duration {
    let t = Instant::now();
    let mut lines = String::new();
    for i in 0..20 {
        lines.push_str(&format!("PING :b{i}\r\n"));
    }
    c.send_raw(lines.as_bytes()).await;
    loop {
        let m = c.expect("PONG").await;
        if m.last() == "b19" {
            return t.elapsed();
        }
    }
}

#[tokio::test(start_paused = true)]
async fn flood_recvq_and_sendq_come_from_the_class() {
    let srv = start(&format!(
        "{PROXY_LISTENERS}{NO_PINGS}
[[class]]
name = \"slow\"
cidrs = [\"192.0.2.0/24\"]
flood_burst = 5
flood_rate = 1.0
sendq = 8192
[[class]]
name = \"free\"
cidrs = [\"198.51.100.0/24\"]
flood_exempt = true
[[class]]
name = \"tiny\"
cidrs = [\"203.0.113.0/24\"]
flood_burst = 1
flood_rate = 1.0
recvq = 9000
"
    ))
    .await;
    let p = srv.addrs[1];
    let mut slow = via_proxy(p, "192.0.2.1").await;
    slow.wait = Duration::from_secs(600);
    slow.register("slow").await;
    let mut free = via_proxy(p, "198.51.100.1").await;
    free.register("free").await;
    // Registration took from the bucket; let it refill first.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let took = burst(&mut slow).await;
    assert!(
        took >= Duration::from_secs(14) && took < Duration::from_secs(16),
        "{took:?}"
    );
    assert!(burst(&mut free).await < Duration::from_millis(100));
    let sendq = |nick: &str| srv.handle.state().find_nick(nick).unwrap().sendq.limit();
    assert_eq!((sendq("slow"), sendq("free")), (8192, 256 * 1024));
    // Past the class's recvq while fakelagged: Excess Flood.
    let mut tiny = via_proxy(p, "203.0.113.5").await;
    tiny.wait = Duration::from_secs(600);
    tiny.register("tiny").await;
    tiny.send_raw("PING :x\r\n".repeat(4000).as_bytes()).await;
    let lines = tiny.expect_closed().await;
    assert_eq!(
        lines.last().unwrap().last(),
        "Closing Link: 203.0.113.5 (Excess Flood)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_tls_class_gets_its_ping_interval() {
    let srv = start(&format!(
        "[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"127.0.0.1:0\"\ntls = true\n{NO_PINGS}[[class]]\nname = \"secure\"\ntls = true\nping_interval = \"30s\"\n"
    ))
    .await;
    let mut plain = srv.user("plain").await;
    let mut tls = TestClient::connect_tls(srv.addrs[1]).await;
    tls.wait = Duration::from_secs(600);
    tls.register("secure").await;
    let t = Instant::now();
    tls.expect("PING").await;
    let at = t.elapsed();
    assert!(
        at >= Duration::from_secs(30) && at < Duration::from_secs(31),
        "{at:?}"
    );
    let rest = plain.sync().await;
    assert!(!rest.iter().any(|m| m.command == "PING"), "{rest:?}");
}

fn plain_sasl(account: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{account}\0{password}"))
}

/// Connects, logs in with SASL PLAIN and sends CAP END; the caller reads on.
async fn sasl_client(srv: &TestServer, nick: &str) -> TestClient {
    let mut c = srv.client().await;
    c.wait = Duration::from_secs(600);
    c.send("CAP REQ :sasl").await;
    c.send(&format!("NICK {nick}")).await;
    c.send(&format!("USER {nick} 0 * :r")).await;
    c.send("AUTHENTICATE PLAIN").await;
    c.expect("AUTHENTICATE").await;
    c.send(&format!(
        "AUTHENTICATE {}",
        plain_sasl("bridgebot", "bridge-pw")
    ))
    .await;
    c.expect("903").await;
    c.send("CAP END").await;
    c
}

#[tokio::test(start_paused = true)]
async fn an_account_class_applies_after_sasl() {
    let srv = start(&format!(
        "{NO_PINGS}[services]\nbcrypt_cost = 4\n[[class]]\nname = \"bridge\"\naccount = [\"BridgeBot\"]\nmax_clients = 1\nping_interval = \"30s\"\n"
    ))
    .await;
    let mut owner = srv.user("bridgebot").await;
    owner.wait = Duration::from_secs(600);
    owner.send("NS REGISTER bridge-pw").await;
    owner.expect("900").await;
    let mut first = sasl_client(&srv, "b1").await;
    first.expect("001").await;
    let t = Instant::now();
    // The class is full now: the next login is refused before 001.
    let mut second = sasl_client(&srv, "b2").await;
    let lines = second.expect_closed().await;
    assert!(!lines.iter().any(|m| m.command == "001"), "{lines:?}");
    assert_eq!(
        lines.last().unwrap().last(),
        "Closing Link: 127.0.0.1 (server full: the bridge class is full)"
    );
    // The class's ping interval, not the default's; the owner, logged in
    // after registering, stays in the default class.
    first.expect("PING").await;
    let at = t.elapsed();
    assert!(
        at >= Duration::from_secs(29) && at < Duration::from_secs(31),
        "{at:?}"
    );
    let rest = owner.sync().await;
    assert!(!rest.iter().any(|m| m.command == "PING"), "{rest:?}");
}

#[tokio::test(start_paused = true)]
async fn a_rehash_changes_limits_for_new_connections_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ircd.toml");
    let class = |per_ip: usize, ping: &str| {
        format!(
            "{NO_PINGS}[[class]]\nname = \"local\"\ncidrs = [\"127.0.0.0/8\"]\nper_ip = {per_ip}\nping_interval = \"{ping}\"\n"
        )
    };
    std::fs::write(&path, config_text(dir.path(), &class(0, "1h"))).unwrap();
    let srv = start_with(ircd::Config::load(&path).unwrap(), dir).await;
    let mut old = srv.user("old").await;
    old.wait = Duration::from_secs(600);
    std::fs::write(&path, config_text(srv.dir.path(), &class(2, "30s"))).unwrap();
    srv.handle.rehash().unwrap();
    let mut new = srv.user("new").await;
    new.wait = Duration::from_secs(600);
    let t = Instant::now();
    // per_ip = 2 counts both; the old connection is not cut off.
    assert_eq!(
        refusal(srv.client().await).await,
        "Closing Link: 127.0.0.1 (too many host connections)"
    );
    new.expect("PING").await;
    let at = t.elapsed();
    assert!(
        at >= Duration::from_secs(29) && at < Duration::from_secs(31),
        "{at:?}"
    );
    // The old connection keeps its class's hour.
    let rest = old.sync().await;
    assert!(!rest.iter().any(|m| m.command == "PING"), "{rest:?}");
}

#[test]
fn bad_classes_are_refused_with_their_key() {
    let err = ircd::Config::parse(
        "[[class]]\nname = \"x y\"\nper_ip = 5\n[[class]]\nname = \"b\"\ncidrs = [\"nope\"]\nrecvq = 10\nping_interval = \"0s\"\n",
        None,
    )
    .unwrap_err()
    .to_string();
    for want in [
        "class[0].name: \"x y\" must be one word",
        "class[0].name: a class needs cidrs, account or tls = true",
        "class[1].cidrs[0]: \"nope\" is not a CIDR",
        "class[1].recvq: 10 is outside",
        "class[1].ping_interval: must be at least 1s",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}

/// ircd.toml.example documents every class key, and its default class is
/// the built-in one.
#[test]
fn example_documents_the_class_keys() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ircd.toml.example");
    let example = ircd::Config::load(path.as_ref()).unwrap();
    let defaults = ircd::Config::defaults();
    assert!(example.classes.is_empty());
    assert_eq!(
        format!("{:?}", example.default_class),
        format!("{:?}", defaults.default_class)
    );
    let text = std::fs::read_to_string(path).unwrap();
    for key in [
        "[[class]]",
        "name = ",
        "cidrs = ",
        "account = ",
        "tls = ",
        "max_clients = ",
        "per_ip = ",
        "per_cidr = ",
        "ipv6_prefix = ",
        "cidr_ipv4_prefix = ",
        "cidr_ipv6_prefix = ",
        "connections_per_minute = ",
        "sendq = ",
        "recvq = ",
        "flood_burst = ",
        "flood_rate = ",
        "flood_exempt = ",
        "ping_interval = ",
        "max_connections = ",
        "ident = ",
        "ident_timeout = ",
        "ident_port = ",
    ] {
        assert!(
            text.contains(key),
            "ircd.toml.example does not document {key:?}"
        );
    }
}

/// Failed OPER attempts count per `[connections] ipv6_prefix` network, as
/// connections and logins do (they counted per /64 whatever the setting):
/// with /48, three failures from one /64 use up the attempts of another
/// /64 of the same /48, and a different /48 still gets its own.
#[tokio::test]
async fn oper_failures_count_per_ipv6_prefix_network() {
    let hash = bcrypt::hash("right", 4).unwrap();
    let srv = start(&format!(
        "{PROXY_LISTENERS}[connections]\nipv6_prefix = 48\n[[oper]]\nname = \"root\"\npassword = {hash:?}\n"
    ))
    .await;
    let p = srv.addrs[1];
    let mut a = via_proxy(p, "2001:db8:0:1::1").await;
    a.register("guesser").await;
    for guess in ["a", "b", "c"] {
        a.send(&format!("OPER root {guess}")).await;
        a.expect("464").await;
    }
    let mut b = via_proxy(p, "2001:db8:0:2::1").await;
    b.register("neighbour").await;
    b.send("OPER root right").await;
    assert_eq!(
        b.expect("491").await.last(),
        "Too many failed OPER attempts from your address; try again later"
    );
    let mut c = via_proxy(p, "2001:db8:1::1").await;
    c.register("elsewhere").await;
    c.send("OPER root right").await;
    c.expect("381").await;
}
