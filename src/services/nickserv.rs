//! NickServ: accounts. REGISTER, IDENTIFY, LOGOUT, INFO, DROP, SET, GROUP,
//! UNGROUP, GHOST, CERT (Atheme/Anope names); RECOVER, RELEASE and SET
//! ENFORCE are in `enforce.rs`. Passwords are checked and hashed in
//! blocking jobs; wrong ones are throttled before any hashing.

use super::{
    Caller, Command, Service,
    accounts::{Accounts, LoginError, ago},
    job,
    store::StoreError,
};
use crate::proto::numerics::*;

const NS: Service = Service::NickServ;

pub static COMMANDS: &[Command] = &[
    Command {
        name: "REGISTER",
        syntax: "REGISTER <password> [<email>]",
        help: "Registers your current nick as an account and logs you in.",
        min_params: 1,
        needs_login: false,
        handler: register,
    },
    Command {
        name: "IDENTIFY",
        syntax: "IDENTIFY [<account>] <password>",
        help: "Logs you in to an account (your nick's, or the one named).",
        min_params: 1,
        needs_login: false,
        handler: identify,
    },
    Command {
        name: "LOGOUT",
        syntax: "LOGOUT",
        help: "Logs you out of your account.",
        min_params: 0,
        needs_login: true,
        handler: logout,
    },
    Command {
        name: "INFO",
        syntax: "INFO [<nick>]",
        help: "Shows an account: when it was registered, who is logged in to it.",
        min_params: 0,
        needs_login: false,
        handler: info,
    },
    Command {
        name: "DROP",
        syntax: "DROP <password>",
        help: "Deletes your account, its nicks and the channels it founded.",
        min_params: 1,
        needs_login: true,
        handler: drop_account,
    },
    Command {
        name: "SET",
        syntax: "SET PASSWORD <new password> | SET ENFORCE ON|OFF",
        help: "Changes a setting of your account: PASSWORD, or ENFORCE (whoever uses one of \
               your nicks without identifying is renamed after a grace period).",
        min_params: 2,
        needs_login: true,
        handler: set,
    },
    Command {
        name: "GROUP",
        syntax: "GROUP",
        help: "Adds your current nick to the account you are logged in to.",
        min_params: 0,
        needs_login: true,
        handler: group,
    },
    Command {
        name: "UNGROUP",
        syntax: "UNGROUP [<nick>]",
        help: "Removes a nick (your current one by default) from your account.",
        min_params: 0,
        needs_login: true,
        handler: ungroup,
    },
    Command {
        name: "GHOST",
        syntax: "GHOST <nick> [<password>]",
        help: "Disconnects a connection that holds a nick of your account.",
        min_params: 1,
        needs_login: false,
        handler: ghost,
    },
    Command {
        name: "RECOVER",
        syntax: "RECOVER <nick> [<password>]",
        help: "Renames whoever uses a nick of your account to a guest nick and gives you \
               the nick (with the password, you are logged in too).",
        min_params: 1,
        needs_login: false,
        handler: super::enforce::recover,
    },
    Command {
        name: "RELEASE",
        syntax: "RELEASE <nick> [<password>]",
        help: "Frees a nick of your account that services hold after renaming its user.",
        min_params: 1,
        needs_login: false,
        handler: super::enforce::release,
    },
    Command {
        name: "CERT",
        syntax: "CERT LIST | CERT ADD [<fingerprint>] | CERT DEL <fingerprint>",
        help: "Manages the TLS client certificates (SHA-256 fingerprints) that log you in \
               with SASL EXTERNAL. ADD without a fingerprint adds the one you connected with.",
        min_params: 1,
        needs_login: true,
        handler: cert,
    },
];

/// Logs the caller in to `account`: account-notify to those who asked, 900.
pub fn log_in(c: &mut dyn Caller, account: &str) {
    let client = c.client();
    let d = c.state().set_account(&client, Some(account.to_string()));
    c.deliver(d);
    let prefix = client.prefix();
    c.numeric(
        RPL_LOGGEDIN,
        &[
            &prefix,
            account,
            &format!("You are now logged in as {account}"),
        ],
    );
}

fn accounts(c: &dyn Caller) -> std::sync::Arc<Accounts> {
    c.accounts().expect("routed only when services are on")
}

// REGISTER <password> [<email>]
fn register(c: &mut dyn Caller, args: &[&str]) {
    let client = c.client();
    if let Some(a) = client.snapshot().account {
        c.notice(NS, &format!("You are already logged in as {a}."));
        return;
    }
    let name = client.nick();
    let acc = accounts(c);
    if acc.nick_owner(&name).is_some() {
        c.notice(NS, &format!("{name} is already registered."));
        return;
    }
    let password = zeroize::Zeroizing::new(args[0].to_string());
    if let Some(why) = Accounts::password_problem(&password) {
        c.notice(NS, why);
        return;
    }
    let email = args.get(1).map(|e| e.to_string());
    let cost = c.config().services.bcrypt_cost;
    job(
        c,
        move || acc.register(&name, &password, email, cost).map(|_| name),
        |c, result| match result {
            Ok(name) => {
                log_in(c, &name);
                c.notice(
                    NS,
                    &format!("{name} is now registered to you, and you are logged in."),
                );
            }
            Err(StoreError::Exists) => c.notice(NS, "That nick is already registered."),
            Err(_) => c.notice(NS, "The account could not be stored; try again later."),
        },
    );
}

/// Checks `password` for `account` in a job, throttled; `then` runs on success
/// with the account's name.
fn check_password(
    c: &mut dyn Caller,
    account: String,
    password: zeroize::Zeroizing<String>,
    then: impl FnOnce(&mut dyn Caller, String) + Send + 'static,
) {
    let acc = accounts(c);
    let ip = c.client().ip;
    if acc.throttled(c.config(), &account, ip) {
        c.notice(NS, "Too many wrong passwords; try again later.");
        return;
    }
    let tokens = c.config().tokens.clone();
    job(
        c,
        move || {
            acc.verify(&account, &password, tokens.as_ref())
                .map_err(|e| (e, account))
        },
        move |c, result| match result {
            Ok(name) => then(c, name),
            Err((LoginError::Invalid, account)) => {
                accounts(c).note_failure(c.config(), &account, ip);
                c.notice(NS, &format!("Invalid password for {account}."));
            }
            Err((LoginError::Throttled, _)) => {
                c.notice(NS, "Too many wrong passwords; try again later.")
            }
            Err((LoginError::Store, _)) => c.notice(NS, "The account store is unavailable."),
        },
    );
}

// IDENTIFY [<account>] <password>
fn identify(c: &mut dyn Caller, args: &[&str]) {
    let client = c.client();
    if let Some(a) = client.snapshot().account {
        c.notice(NS, &format!("You are already logged in as {a}."));
        return;
    }
    let (account, password) = match args {
        [password] => (client.nick(), *password),
        [account, password, ..] => (account.to_string(), *password),
        [] => return,
    };
    check_password(
        c,
        account,
        zeroize::Zeroizing::new(password.to_string()),
        |c, name| {
            log_in(c, &name);
            c.notice(NS, &format!("You are now identified for {name}."));
        },
    );
}

// LOGOUT
fn logout(c: &mut dyn Caller, _args: &[&str]) {
    let client = c.client();
    let d = c.state().set_account(&client, None);
    c.deliver(d);
    let prefix = client.prefix();
    c.numeric(RPL_LOGGEDOUT, &[&prefix, "You are now logged out"]);
    c.notice(NS, "You are now logged out.");
    super::enforce::on_nick(c);
}

// INFO [<nick>]
fn info(c: &mut dyn Caller, args: &[&str]) {
    let client = c.client();
    let me = client.snapshot();
    let nick = args
        .first()
        .map(|s| s.to_string())
        .unwrap_or(me.nick.clone());
    let Some(a) = accounts(c).account(&nick) else {
        c.notice(NS, &format!("{nick} is not registered."));
        return;
    };
    c.notice(NS, &format!("Information on {}:", a.name));
    c.notice(
        NS,
        &format!(
            "Registered {} ago ({}).",
            ago(a.registered),
            crate::proto::time::human(a.registered)
        ),
    );
    let mine = me
        .account
        .as_deref()
        .is_some_and(|m| c.state().casemap.eq(m, &a.name));
    if mine || me.modes.oper {
        if let Some(e) = &a.email {
            c.notice(NS, &format!("Email: {e}"));
        }
        let nicks = accounts(c).nicks_of(&a.name);
        c.notice(NS, &format!("Nicks: {}", nicks.join(" ")));
        let certs = accounts(c).certs_of(&a.name).len();
        let enforce = if a.enforce { "on" } else { "off" };
        c.notice(NS, &format!("Certificates: {certs}; ENFORCE: {enforce}"));
    }
    let online = c.state().find_nick(&a.name).filter(|h| {
        h.snapshot()
            .account
            .as_deref()
            .is_some_and(|x| c.state().casemap.eq(x, &a.name))
    });
    if online.is_some() {
        c.notice(NS, &format!("{} is online and logged in.", a.name));
    }
    c.notice(NS, "End of information.");
}

// DROP <password>
fn drop_account(c: &mut dyn Caller, args: &[&str]) {
    let Some(account) = c.client().snapshot().account else {
        return;
    };
    check_password(
        c,
        account,
        zeroize::Zeroizing::new(args[0].to_string()),
        |c, name| {
            let acc = accounts(c);
            if acc.drop_account(&name) {
                // Every connection logged in to it is logged out, not only this one.
                for client in c.state().logged_in(&name) {
                    let d = c.state().set_account(&client, None);
                    c.deliver(d);
                }
                c.notice(NS, &format!("The account {name} is dropped."));
            } else {
                c.notice(NS, "The account could not be dropped.");
            }
        },
    );
}

// SET PASSWORD <new> | SET ENFORCE ON|OFF
fn set(c: &mut dyn Caller, args: &[&str]) {
    if args[0].eq_ignore_ascii_case("ENFORCE") {
        return super::enforce::set_enforce(c, args[1]);
    }
    if !args[0].eq_ignore_ascii_case("PASSWORD") {
        c.notice(
            NS,
            "Unknown setting. Syntax: SET PASSWORD <new password> | SET ENFORCE ON|OFF",
        );
        return;
    }
    let Some(account) = c.client().snapshot().account else {
        return;
    };
    let password = zeroize::Zeroizing::new(args[1].to_string());
    if let Some(why) = Accounts::password_problem(&password) {
        c.notice(NS, why);
        return;
    }
    let acc = accounts(c);
    let cost = c.config().services.bcrypt_cost;
    job(
        c,
        move || acc.set_password(&account, &password, cost).is_ok(),
        |c, ok| {
            if ok {
                c.notice(NS, "Your password is changed.");
            } else {
                c.notice(NS, "The password could not be changed.");
            }
        },
    );
}

// GHOST <nick> [<password>]
fn ghost(c: &mut dyn Caller, args: &[&str]) {
    let target = args[0].to_string();
    let client = c.client();
    let Some(victim) = c.state().find_nick(&target) else {
        c.notice(NS, &format!("{target} is not online."));
        return;
    };
    if victim.id == client.id {
        c.notice(NS, "You cannot ghost yourself.");
        return;
    }
    let Some(owner) = accounts(c).nick_owner(&target) else {
        c.notice(NS, &format!("{target} is not registered."));
        return;
    };
    let kill = move |c: &mut dyn Caller| {
        let me = c.client();
        let reason = format!("Ghosted by {}", me.nick());
        let d = c.state().kill(&me, &victim, &reason);
        c.deliver(d);
        c.notice(NS, &format!("{target} has been ghosted."));
    };
    let mine = client
        .snapshot()
        .account
        .is_some_and(|a| c.state().casemap.eq(&a, &owner));
    match (mine, args.get(1)) {
        (true, _) => kill(c),
        (false, Some(pw)) => check_password(
            c,
            owner,
            zeroize::Zeroizing::new(pw.to_string()),
            move |c, _| kill(c),
        ),
        (false, None) => c.notice(NS, "That nick is not yours: GHOST <nick> <password>."),
    }
}

// GROUP
fn group(c: &mut dyn Caller, _args: &[&str]) {
    let client = c.client();
    let Some(account) = client.snapshot().account else {
        return;
    };
    let nick = client.nick();
    let acc = accounts(c);
    job(
        c,
        move || acc.group(&nick, &account).map(|_| (nick, account)),
        |c, r| match r {
            Ok((nick, account)) => c.notice(NS, &format!("{nick} is now a nick of {account}.")),
            Err(StoreError::Exists) => c.notice(NS, "That nick is already registered."),
            Err(_) => c.notice(NS, "The nick could not be grouped; try again later."),
        },
    );
}

// UNGROUP [<nick>]
fn ungroup(c: &mut dyn Caller, args: &[&str]) {
    let client = c.client();
    let Some(account) = client.snapshot().account else {
        return;
    };
    let nick = args
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| client.nick());
    let acc = accounts(c);
    let owned = acc
        .nick_owner(&nick)
        .is_some_and(|o| c.state().casemap.eq(&o, &account));
    if !owned {
        c.notice(NS, &format!("{nick} is not a nick of your account."));
        return;
    }
    job(
        c,
        move || acc.ungroup(&nick).then_some(nick),
        |c, r| match r {
            Some(nick) => c.notice(NS, &format!("{nick} is no longer a nick of your account.")),
            None => c.notice(
                NS,
                "An account's own name cannot be ungrouped; DROP the account instead.",
            ),
        },
    );
}

// CERT LIST | CERT ADD [<fingerprint>] | CERT DEL <fingerprint>
fn cert(c: &mut dyn Caller, args: &[&str]) {
    use super::accounts::{MAX_CERTS, normalize_fingerprint};
    let client = c.client();
    let Some(account) = client.snapshot().account else {
        return;
    };
    let acc = accounts(c);
    let sub = args[0].to_ascii_uppercase();
    if sub == "LIST" {
        let certs = acc.certs_of(&account);
        c.notice(NS, &format!("Certificates of {account}: {}", certs.len()));
        for fp in certs {
            c.notice(NS, &fp);
        }
        return;
    }
    if sub != "ADD" && sub != "DEL" {
        c.notice(
            NS,
            "Syntax: CERT LIST | CERT ADD [<fingerprint>] | CERT DEL <fingerprint>",
        );
        return;
    }
    let given = match (args.get(1), sub.as_str()) {
        (Some(fp), _) => fp.to_string(),
        (None, "ADD") => match client.certfp() {
            Some(fp) => fp,
            None => {
                c.notice(
                    NS,
                    "You are not using a TLS client certificate: CERT ADD <fingerprint>.",
                );
                return;
            }
        },
        (None, _) => {
            c.notice(NS, "Syntax: CERT DEL <fingerprint>");
            return;
        }
    };
    let Some(fp) = normalize_fingerprint(&given) else {
        c.notice(
            NS,
            "That is not a SHA-256 fingerprint (64 hexadecimal digits, colons allowed).",
        );
        return;
    };
    if sub == "DEL" {
        job(
            c,
            move || acc.remove_cert(&account, &fp).then_some(fp),
            |c, r| match r {
                Some(fp) => c.notice(NS, &format!("Certificate {fp} removed.")),
                None => c.notice(NS, "That certificate is not on your account."),
            },
        );
        return;
    }
    if acc.certs_of(&account).len() >= MAX_CERTS {
        c.notice(
            NS,
            &format!("Your account has {MAX_CERTS} certificates, the most it may have."),
        );
        return;
    }
    job(
        c,
        move || acc.add_cert(&account, &fp).map(|_| fp),
        |c, r| match r {
            Ok(fp) => c.notice(
                NS,
                &format!("Certificate {fp} added: SASL EXTERNAL logs you in with it."),
            ),
            Err(StoreError::Exists) => c.notice(NS, "That certificate is already registered."),
            Err(_) => c.notice(NS, "The certificate could not be stored; try again later."),
        },
    );
}
