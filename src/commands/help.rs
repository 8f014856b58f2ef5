//! HELP: the command list, and a line of syntax and meaning per command.

use crate::proto::{Message, numerics::*};

use super::Ctx;

/// HELP topics: a line of syntax and one of meaning each.
const HELP: &[(&str, &str)] = &[
    ("ADMIN", "ADMIN: shows who runs this server."),
    (
        "AWAY",
        "AWAY [<message>]: marks you away; without a message, back.",
    ),
    ("CAP", "CAP LS|REQ|LIST|END: IRCv3 capability negotiation."),
    (
        "CHATHISTORY",
        "CHATHISTORY LATEST|BEFORE|AFTER|AROUND <target> <msgid=|timestamp=|*> <limit> | BETWEEN <target> <ref> <ref> <limit> | TARGETS <timestamp=> <timestamp=> <limit>: what was said, from memory.",
    ),
    (
        "DLINE",
        "DLINE [<duration>] <ip|cidr> [:<reason>[|<oper reason>]]: (opers) bans an address or network; minutes or 1h/7d, none: permanent.",
    ),
    ("HELP", "HELP [<command>]: lists commands, or explains one."),
    ("INFO", "INFO: shows information about this server."),
    (
        "INVITE",
        "INVITE <nick> <#channel>: invites a user past +i, +k and +l once.",
    ),
    (
        "ISON",
        "ISON <nick>...: tells which of the nicks are online.",
    ),
    (
        "JOIN",
        "JOIN <#channel>[,...] [<key>[,...]]: joins (or creates) channels; JOIN 0 parts all.",
    ),
    (
        "KLINE",
        "KLINE [<duration>] <user@host> [:<reason>[|<oper reason>]]: (opers) bans user@host; minutes or 1h/7d, none: permanent.",
    ),
    (
        "KICK",
        "KICK <#channel> <nick> [<reason>]: removes a user from a channel.",
    ),
    ("KILL", "KILL <nick> <reason>: (opers) disconnects a user."),
    (
        "LIST",
        "LIST [<#channel>[,...]] [>n|<n]: lists channels (secret ones hidden).",
    ),
    ("LUSERS", "LUSERS: counts users, operators and channels."),
    (
        "MODE",
        "MODE <target> [<modes> [<params>]]: shows or changes user or channel modes.",
    ),
    (
        "MONITOR",
        "MONITOR +|- <nick>[,...] | C | L | S: get notified when nicks come and go.",
    ),
    ("MOTD", "MOTD: shows the message of the day."),
    ("NAMES", "NAMES <#channel>: lists who is in a channel."),
    ("NICK", "NICK <nick>: sets or changes your nickname."),
    (
        "NOTICE",
        "NOTICE <target>[,...] <text>: like PRIVMSG, never answered automatically.",
    ),
    ("OPER", "OPER <name> <password>: become an IRC operator."),
    ("PART", "PART <#channel>[,...] [<reason>]: leaves channels."),
    (
        "PASS",
        "PASS <password>: the server password, before NICK and USER.",
    ),
    (
        "PING",
        "PING <token>: the server answers PONG with the token.",
    ),
    ("PONG", "PONG <token>: answers a PING from the server."),
    (
        "PRIVMSG",
        "PRIVMSG <target>[,...] <text>: sends a message to channels or users.",
    ),
    ("QUIT", "QUIT [<reason>]: disconnects."),
    (
        "REDACT",
        "REDACT <target> <msgid> [<reason>]: deletes your message (or, as a channel operator, anyone's) from history.",
    ),
    (
        "REHASH",
        "REHASH: (opers) reloads the configuration, MOTD and certificates.",
    ),
    ("SETNAME", "SETNAME <realname>: changes your realname."),
    (
        "STATS",
        "STATS <k|d>: (opers) lists K-lines (216) or D-lines (225).",
    ),
    (
        "TAGMSG",
        "TAGMSG <target>[,...]: a message with only tags (IRCv3 message-tags).",
    ),
    (
        "TESTLINE",
        "TESTLINE <user@host|ip>: (opers) shows the ban such a client would meet.",
    ),
    ("TIME", "TIME: shows the server's time."),
    (
        "TOPIC",
        "TOPIC <#channel> [<topic>]: shows or sets a channel topic.",
    ),
    ("UNDLINE", "UNDLINE <ip|cidr>: (opers) removes a D-line."),
    ("UNKLINE", "UNKLINE <user@host>: (opers) removes a K-line."),
    ("USER", "USER <username> 0 * <realname>: registration."),
    ("USERHOST", "USERHOST <nick>...: shows user@host of nicks."),
    ("VERSION", "VERSION: shows the server version and ISUPPORT."),
    (
        "WALLOPS",
        "WALLOPS <text>: (opers) a message to users with +w.",
    ),
    (
        "WHO",
        "WHO <mask|#channel> [%fields]: lists users (WHOX fields supported).",
    ),
    ("WHOIS", "WHOIS <nick>: shows information about a user."),
    (
        "WHOWAS",
        "WHOWAS <nick> [<count>]: shows who used a nick recently.",
    ),
];

// HELP [<subject>]
pub fn help(ctx: &mut Ctx, msg: &Message) {
    let subject = msg.param(0).map(str::to_ascii_uppercase);
    match subject {
        None => {
            ctx.reply(
                RPL_HELPSTART,
                &["*", "Commands of this server (HELP <command> for one):"],
            );
            for chunk in super::command_names().chunks(8) {
                ctx.reply(RPL_HELPTXT, &["*", &chunk.join(" ")]);
            }
            ctx.reply(RPL_ENDOFHELP, &["*"]);
        }
        Some(s) => match HELP.iter().find(|(n, _)| *n == s) {
            Some((name, text)) => {
                let lower = name.to_ascii_lowercase();
                ctx.reply(RPL_HELPSTART, &[&lower, text]);
                ctx.reply(RPL_ENDOFHELP, &[&lower]);
            }
            // The subject is the user's text: one parameter, never a space.
            None => ctx.reply(ERR_HELPNOTFOUND, &[&s.replace(' ', "_")]),
        },
    }
}
