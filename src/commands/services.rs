//! The way into the built-in services: `NS`/`NICKSERV`/`CS`/`CHANSERV`
//! commands and `PRIVMSG NickServ :...` reach the same router
//! (`services::route`); the command context is the services' [`Caller`].

use std::sync::Arc;

use crate::{
    config::Config,
    proto::{Line, Message, numerics::Numeric},
    services::{self, Accounts, Caller, Done, Service},
    state::{ClientRef, Delivery, State},
};

use super::Ctx;

impl Caller for Ctx<'_> {
    fn state(&self) -> &State {
        self.state
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn client(&self) -> ClientRef {
        self.session.client.clone()
    }

    fn accounts(&self) -> Option<Arc<Accounts>> {
        self.control.accounts()
    }

    fn notice(&mut self, service: Service, text: &str) {
        let nick = self.nick();
        let line = Line::new(Some(&service.prefix()), "NOTICE")
            .arg(&nick)
            .text(text)
            .build();
        self.out.push(line);
    }

    fn numeric(&mut self, n: Numeric, args: &[&str]) {
        self.reply(n, args);
    }

    fn deliver(&mut self, d: Delivery) {
        Ctx::deliver(self, d);
    }

    fn raw_line(&mut self, words: &[&str], text: &str) {
        let Some((command, args)) = words.split_first() else {
            return;
        };
        let line = Line::new(Some(&self.config.server.name), command)
            .args(args.iter().copied())
            .text(text)
            .build();
        self.out.push(line);
    }

    fn after(&mut self, delay: std::time::Duration, work: services::Later) {
        self.control.clone().after(delay, work);
    }

    fn blocking(
        &mut self,
        work: Box<dyn FnOnce() -> Done + Send>,
        then: Box<dyn for<'a> FnOnce(&mut (dyn Caller + 'a), Done) + Send>,
    ) {
        Ctx::blocking(self, work, move |ctx, done| then(ctx, done));
    }
}

/// The text said to a service by a command form: the parameters rejoined
/// (`NS IDENTIFY alice pw` and `NS :IDENTIFY alice pw` mean the same).
fn text_of(msg: &Message) -> String {
    msg.params().join(" ")
}

// NICKSERV|NS <command> [<args>...]
pub fn nickserv(ctx: &mut Ctx, msg: &Message) {
    services::route(ctx, Service::NickServ, &text_of(msg));
}

// CHANSERV|CS <command> [<args>...]
pub fn chanserv(ctx: &mut Ctx, msg: &Message) {
    services::route(ctx, Service::ChanServ, &text_of(msg));
}
