//! Tests of the redb store (`store.rs`).
use super::*;

/// A server killed while it made its first store leaves at most a
/// half-made `accounts.redb.new.<pid>` (redb refuses such a file: "invalid
/// data"); the next start makes the store again and opens it.
#[test]
fn a_half_made_first_store_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.redb");
    let tmp = dir
        .path()
        .join(format!("accounts.redb.new.{}", std::process::id()));
    std::fs::write(&tmp, vec![0u8; 1 << 20]).unwrap();
    assert!(Database::create(&tmp).is_err(), "redb opens a zeroed file");
    let a = Account {
        name: "Alice".into(),
        hash: "$2b$04$x".into(),
        registered: 1,
        ..Account::default()
    };
    RedbStore::open(&path)
        .unwrap()
        .create_account("alice", &a)
        .unwrap();
    assert!(!tmp.exists());
    // An empty file (a crash before anything was written) too.
    let empty = dir.path().join("empty.redb");
    std::fs::write(&empty, b"").unwrap();
    RedbStore::open(&empty).unwrap();
    // Another process made the store meanwhile: it is kept, not replaced.
    RedbStore::create_new(&path).unwrap();
    assert_eq!(
        RedbStore::open(&path).unwrap().account("alice").unwrap(),
        Some(a)
    );
    assert!(!tmp.exists());
}

#[test]
fn accounts_nicks_and_channels_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.redb");
    let a = Account {
        name: "Alice".into(),
        hash: "$2b$04$x".into(),
        registered: 1,
        ..Account::default()
    };
    {
        let s = RedbStore::open(&path).unwrap();
        s.create_account("alice", &a).unwrap();
        assert!(matches!(
            s.create_account("alice", &a),
            Err(StoreError::Exists)
        ));
        let reg = ChannelRegistration {
            name: "#Room".into(),
            founder: "alice".into(),
            registered: 2,
            description: None,
            access: Vec::new(),
            akick: Vec::new(),
            kept: None,
            entry_message: None,
            keep_topic: true,
            restricted: false,
            history_off: false,
        };
        s.create_channel("#room", &reg).unwrap();
    }
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(s.account("alice").unwrap(), Some(a));
    assert_eq!(s.nick_owner("alice").unwrap().as_deref(), Some("alice"));
    let counts = |accounts, nicks, certs, channels| Counts {
        accounts,
        nicks,
        certs,
        channels,
    };
    assert_eq!(s.check().unwrap(), counts(1, 1, 0, 1));
    s.group_nick("al", "alice").unwrap();
    s.add_cert(&"ab".repeat(32), "alice").unwrap();
    assert!(matches!(
        s.add_cert(&"ab".repeat(32), "bob"),
        Err(StoreError::Exists)
    ));
    assert!(!s.remove_cert(&"ab".repeat(32), "bob").unwrap());
    assert_eq!(
        s.cert_owner(&"ab".repeat(32)).unwrap().as_deref(),
        Some("alice")
    );
    assert_eq!(s.check().unwrap(), counts(1, 2, 1, 1));
    assert_eq!(s.nicks_of("alice").unwrap().len(), 2);
    let ban = crate::state::ServerBan {
        kind: crate::state::BanKind::Dline,
        mask: "192.0.2.0/24".into(),
        reason: "spam".into(),
        oper_reason: None,
        setter: "root".into(),
        set_at: 3,
        expires: Some(4),
    };
    s.put_ban(&ban).unwrap();
    assert_eq!(s.bans().unwrap(), vec![ban.clone()]);
    let dump = s.export().unwrap();
    let other = RedbStore::open(&dir.path().join("copy.redb")).unwrap();
    other.import(&dump).unwrap();
    assert_eq!(other.export().unwrap(), dump);
    assert!(
        !s.ungroup_nick("alice").unwrap(),
        "an account's own nick stays"
    );
    assert!(s.delete_account("alice").unwrap());
    assert_eq!(s.check().unwrap(), counts(0, 0, 0, 0));
    assert!(s.remove_ban(&ban.key()).unwrap());
    assert!(s.bans().unwrap().is_empty());
}
