//! Server queries: LUSERS, MOTD, TIME, VERSION, ADMIN, INFO. They read
//! state and change nothing.

use crate::{
    proto::{Message, numerics::*},
    state::unix_now,
};

use super::{Ctx, registration};

// LUSERS
pub fn lusers(ctx: &mut Ctx, _msg: &Message) {
    send_lusers(ctx);
}

pub fn send_lusers(ctx: &mut Ctx) {
    let st = ctx.state;
    let users = st.local_users();
    let invisible = st.invisible_count();
    let max = st.max_local_users().max(users);
    ctx.reply(
        RPL_LUSERCLIENT,
        &[&format!(
            "There are {} users and {invisible} invisible on 1 servers",
            users - invisible.min(users)
        )],
    );
    ctx.reply(RPL_LUSEROP, &[&st.oper_count().to_string()]);
    ctx.reply(RPL_LUSERUNKNOWN, &[&st.unregistered().to_string()]);
    ctx.reply(RPL_LUSERCHANNELS, &[&st.channel_count().to_string()]);
    ctx.reply(
        RPL_LUSERME,
        &[&format!("I have {users} clients and 0 servers")],
    );
    ctx.reply(
        RPL_LOCALUSERS,
        &[
            &users.to_string(),
            &max.to_string(),
            &format!("Current local users {users}, max {max}"),
        ],
    );
    ctx.reply(
        RPL_GLOBALUSERS,
        &[
            &users.to_string(),
            &max.to_string(),
            &format!("Current global users {users}, max {max}"),
        ],
    );
}

// MOTD [<server>]
pub fn motd(ctx: &mut Ctx, _msg: &Message) {
    send_motd(ctx);
}

pub fn send_motd(ctx: &mut Ctx) {
    let cfg = ctx.config.clone();
    match &cfg.server.motd {
        None => ctx.reply(ERR_NOMOTD, &[]),
        Some(lines) => {
            ctx.reply(
                RPL_MOTDSTART,
                &[&format!("- {} Message of the day - ", cfg.server.name)],
            );
            for l in lines {
                ctx.reply(RPL_MOTD, &[&format!("- {l}")]);
            }
            ctx.reply(RPL_ENDOFMOTD, &[]);
        }
    }
}

// TIME [<server>]
pub fn time(ctx: &mut Ctx, _msg: &Message) {
    let name = ctx.config.server.name.clone();
    ctx.reply(
        RPL_TIME,
        &[
            &name,
            &unix_now().to_string(),
            "0",
            &registration::now_string(),
        ],
    );
}

// VERSION [<server>]
pub fn version(ctx: &mut Ctx, _msg: &Message) {
    let name = ctx.config.server.name.clone();
    ctx.reply(
        RPL_VERSION,
        &[
            registration::VERSION,
            &name,
            "IRCv3 server with ephemeral, no-log channels",
        ],
    );
    registration::send_isupport(ctx);
}

// ADMIN [<server>]
pub fn admin(ctx: &mut Ctx, _msg: &Message) {
    let cfg = ctx.config.clone();
    ctx.reply(RPL_ADMINME, &[&cfg.server.name]);
    ctx.reply(RPL_ADMINLOC1, &[&cfg.server.description]);
    ctx.reply(RPL_ADMINLOC2, &[&cfg.server.admin_location]);
    ctx.reply(RPL_ADMINEMAIL, &[&cfg.server.admin_email]);
}

// INFO [<server>]
pub fn info(ctx: &mut Ctx, _msg: &Message) {
    for l in [
        registration::VERSION,
        "A single-binary IRCv3 server for a home box or a small community,",
        "with ephemeral, no-log channels.",
        "Nothing said here is written to disk or to logs.",
    ] {
        ctx.reply(RPL_INFO, &[l]);
    }
    ctx.reply(RPL_ENDOFINFO, &[]);
}
