//! draft/account-registration: REGISTER and VERIFY, over the same store and
//! rules as NickServ REGISTER. The account is the current nick; no email
//! is required, so there is nothing to verify.

use crate::{
    proto::Message,
    services::{self, Accounts, job, store::StoreError},
};

use super::Ctx;

// REGISTER <account> <email> <password>
pub fn register(ctx: &mut Ctx, msg: &Message) {
    let (account, password) = (msg.params()[0], msg.params()[2]);
    let Some(accounts) = ctx.control.accounts() else {
        return ctx.fail(
            "REGISTER",
            "TEMPORARILY_UNAVAILABLE",
            "Services are disabled",
        );
    };
    let client = ctx.client().clone();
    if let Some(a) = client.snapshot().account {
        let line = crate::proto::Line::new(Some(ctx.server_name()), "FAIL")
            .args(["REGISTER", "ALREADY_AUTHENTICATED", &a])
            .text("You are already logged in")
            .build();
        return ctx.push(line);
    }
    let nick = client.nick();
    let fail = |ctx: &mut Ctx, code: &str, what: &str, text: &str| {
        let line = crate::proto::Line::new(Some(ctx.server_name()), "FAIL")
            .args(["REGISTER", code, what])
            .text(text)
            .build();
        ctx.push(line);
    };
    if nick == "*" {
        return fail(
            ctx,
            "COMPLETE_CONNECTION_REQUIRED",
            "*",
            "Choose a nick first",
        );
    }
    if account != "*" && !ctx.state.casemap.eq(account, &nick) {
        return fail(
            ctx,
            "ACCOUNT_NAME_MUST_BE_NICK",
            &super::who::one_param(account),
            "The account name must be your nick",
        );
    }
    if let Some(why) = Accounts::password_problem(password) {
        return fail(ctx, "UNACCEPTABLE_PASSWORD", &nick, why);
    }
    if accounts.nick_owner(&nick).is_some() {
        return fail(
            ctx,
            "ACCOUNT_EXISTS",
            &nick,
            "That account is already registered",
        );
    }
    let password = zeroize::Zeroizing::new(password.to_string());
    let cost = ctx.config.services.bcrypt_cost;
    let name = nick.clone();
    job(
        ctx,
        move || {
            accounts
                .register(&name, &password, None, cost)
                .map(|_| name)
        },
        |c, result| {
            // The continuation runs with a fresh Ctx behind the Caller.
            match result {
                Ok(name) => {
                    services::log_in(c, &name);
                    c.raw_line(&["REGISTER", "SUCCESS", &name], "Account created");
                }
                Err(StoreError::Exists) => c.raw_line(
                    &["FAIL", "REGISTER", "ACCOUNT_EXISTS", "*"],
                    "That account is already registered",
                ),
                Err(_) => c.raw_line(
                    &["FAIL", "REGISTER", "TEMPORARILY_UNAVAILABLE", "*"],
                    "The account could not be stored",
                ),
            }
        },
    );
}

// VERIFY <account> <code>
pub fn verify(ctx: &mut Ctx, msg: &Message) {
    let line = crate::proto::Line::new(Some(ctx.server_name()), "FAIL")
        .args([
            "VERIFY",
            "INVALID_CODE",
            &super::who::one_param(msg.params()[0]),
        ])
        .text("Accounts here need no verification")
        .build();
    ctx.push(line);
}
