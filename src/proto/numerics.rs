//! The numerics table: every numeric the server sends, with its RFC/ircdocs
//! name and, where it has a fixed one, its text, so `grep ERR_NOSUCHCHANNEL`
//! finds both the spec and every use, and "No such channel" is written once.

/// A numeric reply: its three-digit code and its fixed trailing text (empty
/// when the text varies and the caller gives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numeric {
    pub code: &'static str,
    pub text: &'static str,
}

macro_rules! numerics {
    ($($name:ident = $code:literal $(, $text:literal)?;)*) => {
        $(pub const $name: Numeric = Numeric { code: $code, text: numerics!(@text $($text)?) };)*
        /// (name, numeric) of every numeric, for tests and documentation.
        pub const ALL: &[(&str, Numeric)] = &[$((stringify!($name), $name)),*];
    };
    (@text) => { "" };
    (@text $t:literal) => { $t };
}

numerics! {
    RPL_WELCOME = "001";
    RPL_YOURHOST = "002";
    RPL_CREATED = "003";
    RPL_MYINFO = "004";
    RPL_ISUPPORT = "005", "are supported by this server";
    RPL_STATSKLINE = "216";
    RPL_ENDOFSTATS = "219", "End of /STATS report";
    RPL_UMODEIS = "221";
    RPL_STATSDLINE = "225";
    RPL_LUSERCLIENT = "251";
    RPL_LUSEROP = "252", "operator(s) online";
    RPL_LUSERUNKNOWN = "253", "unknown connection(s)";
    RPL_LUSERCHANNELS = "254", "channels formed";
    RPL_LUSERME = "255";
    RPL_ADMINME = "256", "Administrative info";
    RPL_ADMINLOC1 = "257";
    RPL_ADMINLOC2 = "258";
    RPL_ADMINEMAIL = "259";
    RPL_LOCALUSERS = "265";
    RPL_GLOBALUSERS = "266";
    RPL_WHOISCERTFP = "276";
    RPL_NONE = "300";
    RPL_AWAY = "301";
    RPL_USERHOST = "302";
    RPL_ISON = "303";
    RPL_UNAWAY = "305", "You are no longer marked as being away";
    RPL_NOWAWAY = "306", "You have been marked as being away";
    RPL_WHOISREGNICK = "307";
    RPL_WHOISUSER = "311";
    RPL_WHOISSERVER = "312";
    RPL_WHOISOPERATOR = "313", "is an IRC operator";
    RPL_WHOWASUSER = "314";
    RPL_ENDOFWHO = "315", "End of /WHO list";
    RPL_WHOISIDLE = "317", "seconds idle, signon time";
    RPL_ENDOFWHOIS = "318", "End of /WHOIS list";
    RPL_WHOISCHANNELS = "319";
    RPL_LISTSTART = "321";
    RPL_LIST = "322";
    RPL_LISTEND = "323", "End of /LIST";
    RPL_CHANNELMODEIS = "324";
    RPL_CREATIONTIME = "329";
    RPL_WHOISACCOUNT = "330", "is logged in as";
    RPL_NOTOPIC = "331", "No topic is set";
    RPL_TOPIC = "332";
    RPL_TOPICWHOTIME = "333";
    RPL_WHOISBOT = "335", "is a bot";
    RPL_WHOISACTUALLY = "338", "Actual IP";
    RPL_INVITING = "341";
    RPL_INVITELIST = "346";
    RPL_ENDOFINVITELIST = "347", "End of channel invite list";
    RPL_EXCEPTLIST = "348";
    RPL_ENDOFEXCEPTLIST = "349", "End of channel exception list";
    RPL_VERSION = "351";
    RPL_WHOREPLY = "352";
    RPL_NAMREPLY = "353";
    RPL_WHOSPCRPL = "354";
    RPL_LINKS = "364";
    RPL_ENDOFLINKS = "365";
    RPL_ENDOFNAMES = "366", "End of /NAMES list";
    RPL_BANLIST = "367";
    RPL_ENDOFBANLIST = "368", "End of channel ban list";
    RPL_ENDOFWHOWAS = "369", "End of WHOWAS";
    RPL_INFO = "371";
    RPL_MOTD = "372";
    RPL_ENDOFINFO = "374", "End of INFO list";
    RPL_MOTDSTART = "375";
    RPL_ENDOFMOTD = "376", "End of /MOTD command.";
    RPL_WHOISHOST = "378";
    RPL_WHOISMODES = "379";
    RPL_YOUREOPER = "381", "You are now an IRC operator";
    RPL_REHASHING = "382", "Rehashing";
    RPL_TIME = "391";
    ERR_UNKNOWNERROR = "400";
    ERR_NOSUCHNICK = "401", "No such nick/channel";
    ERR_NOSUCHSERVER = "402";
    ERR_NOSUCHCHANNEL = "403", "No such channel";
    ERR_CANNOTSENDTOCHAN = "404", "Cannot send to channel";
    ERR_TOOMANYCHANNELS = "405", "You have joined too many channels";
    ERR_WASNOSUCHNICK = "406", "There was no such nickname";
    ERR_NOORIGIN = "409";
    ERR_TOOMANYTARGETS = "407", "Too many targets";
    ERR_NORECIPIENT = "411";
    ERR_NOTEXTTOSEND = "412", "No text to send";
    ERR_INPUTTOOLONG = "417", "Input line was too long";
    ERR_UNKNOWNCOMMAND = "421", "Unknown command";
    ERR_NOMOTD = "422", "MOTD File is missing";
    ERR_NONICKNAMEGIVEN = "431", "No nickname given";
    ERR_ERRONEUSNICKNAME = "432", "Erroneous nickname";
    ERR_NICKNAMEINUSE = "433", "Nickname is already in use";
    ERR_USERNOTINCHANNEL = "441", "They aren't on that channel";
    ERR_NOTONCHANNEL = "442", "You're not on that channel";
    ERR_USERONCHANNEL = "443", "is already on channel";
    ERR_NOTREGISTERED = "451", "You have not registered";
    ERR_INVALIDCAPCMD = "410", "Invalid CAP command";
    ERR_BANNICKCHANGE = "435", "Cannot change nickname while banned on channel";
    ERR_NEEDMOREPARAMS = "461", "Not enough parameters";
    ERR_ALREADYREGISTERED = "462", "You may not reregister";
    ERR_PASSWDMISMATCH = "464", "Password incorrect";
    ERR_YOUREBANNEDCREEP = "465";
    ERR_CHANNELISFULL = "471", "Cannot join channel (+l)";
    ERR_UNKNOWNMODE = "472", "is unknown mode char to me";
    ERR_INVITEONLYCHAN = "473", "Cannot join channel (+i)";
    ERR_BANNEDFROMCHAN = "474", "Cannot join channel (+b)";
    ERR_BADCHANNELKEY = "475", "Cannot join channel (+k)";
    ERR_BADCHANMASK = "476";
    ERR_NEEDREGGEDNICK = "477", "You need to be logged in to your account for that";
    ERR_BANLISTFULL = "478", "Channel list is full";
    ERR_NOPRIVILEGES = "481", "Permission Denied- You're not an IRC operator";
    ERR_CHANOPRIVSNEEDED = "482", "You're not channel operator";
    ERR_CANTKILLSERVER = "483";
    ERR_NOOPERHOST = "491", "No O-lines for your host";
    ERR_UMODEUNKNOWNFLAG = "501", "Unknown MODE flag";
    ERR_USERSDONTMATCH = "502", "Can't change mode for other users";
    ERR_HELPNOTFOUND = "524", "No help available on this topic";
    ERR_INVALIDKEY = "525", "Key is not well-formed";
    RPL_WHOISSECURE = "671", "is using a secure connection";
    RPL_HELPSTART = "704";
    RPL_HELPTXT = "705";
    RPL_ENDOFHELP = "706", "End of /HELP";
    ERR_INVALIDMODEPARAM = "696";
    RPL_TESTLINE = "725";
    RPL_NOTESTLINE = "726", "No matches";
    RPL_MONONLINE = "730";
    RPL_MONOFFLINE = "731";
    RPL_MONLIST = "732";
    RPL_ENDOFMONLIST = "733", "End of MONITOR list";
    ERR_MONLISTFULL = "734", "Monitor list is full";
    RPL_LOGGEDIN = "900";
    RPL_LOGGEDOUT = "901";
    ERR_NICKLOCKED = "902", "You must use a nick assigned to you";
    RPL_SASLSUCCESS = "903", "SASL authentication successful";
    ERR_SASLFAIL = "904", "SASL authentication failed";
    ERR_SASLTOOLONG = "905", "SASL message too long";
    ERR_SASLABORTED = "906", "SASL authentication aborted";
    ERR_SASLALREADY = "907", "You have already authenticated using SASL";
    RPL_SASLMECHS = "908", "are available SASL mechanisms";
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_unique_three_digits() {
        let mut seen = std::collections::HashSet::new();
        for (name, n) in super::ALL {
            let code = n.code;
            assert!(
                code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()),
                "{name}"
            );
            assert!(seen.insert(code), "{name} {code} twice");
        }
    }
}
