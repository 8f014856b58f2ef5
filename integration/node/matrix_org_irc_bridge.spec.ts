// What matrix-appservice-irc does with matrix-org-irc beyond the library's own
// spec/ (which integration/matrix_org_irc.sh runs too): NOTICE, ACTION,
// private messages, nick changes, PART, KICK, INVITE, TOPIC, QUIT, WHOIS, long
// messages split to fit 512 bytes, a nick clash before 001, and SASL PLAIN
// into a NickServ account. Copied next to the library's spec/ at run time and
// run by the same jest (ts-jest), on the library's own test rig
// (TestIrcServer: two clients, speaker and listener, unique nicks).
import { describe, beforeEach, afterEach, expect, test } from '@jest/globals';
import { TestIrcServer, TestClient } from '../src/testing';

describe('Bridge use of the client', () => {
    let server: TestIrcServer;
    beforeEach(() => {
        server = new TestIrcServer();
        return server.setUp();
    });
    afterEach(() => {
        return server.tearDown();
    });

    // speaker joins first (and is the channel operator), then listener.
    // (With speaker unprefixed, matrix-org-irc 3.0.0 itself loses its nick
    // changes: onNick tests the member's prefix string, '' for a plain
    // member, for truth, so the 'nick' event lists no channel and the
    // member list keeps the old nick.)
    async function bothIn(channel: string) {
        const { speaker, listener } = server.clients;
        await speaker.join(channel);
        await speaker.waitForEvent('join');
        const seen = speaker.waitForEvent('join');
        await listener.join(channel);
        await seen;
    }

    test('delivers a NOTICE to a channel and to a nick', async () => {
        const { speaker, listener } = server.clients;
        const channel = TestIrcServer.generateUniqueChannel('notice');
        await bothIn(channel);
        let got = listener.waitForEvent('notice');
        await speaker.notice(channel, 'a channel notice');
        let [from, to, text] = await got;
        expect([from, to, text]).toEqual([speaker.nick, channel, 'a channel notice']);
        got = listener.waitForEvent('notice');
        await speaker.notice(listener.nick, 'a private notice');
        [from, to, text] = await got;
        expect([from, to, text]).toEqual([speaker.nick, listener.nick, 'a private notice']);
    });

    test('delivers an ACTION byte-exact', async () => {
        const { speaker, listener } = server.clients;
        const channel = TestIrcServer.generateUniqueChannel('action');
        await bothIn(channel);
        const got = listener.waitForEvent('action');
        await speaker.action(channel, 'waves ünïcödé ✓');
        const [from, to, text] = await got;
        expect([from, to, text]).toEqual([speaker.nick, channel, 'waves ünïcödé ✓']);
    });

    test('delivers a private message as pm', async () => {
        const { speaker, listener } = server.clients;
        const got = listener.waitForEvent('pm');
        await speaker.say(listener.nick, 'psst');
        const [from, text] = await got;
        expect([from, text]).toEqual([speaker.nick, 'psst']);
    });

    test('sees a nick change in a shared channel', async () => {
        const { speaker, listener } = server.clients;
        const channel = TestIrcServer.generateUniqueChannel('nick');
        await bothIn(channel);
        const oldNick = speaker.nick;
        const newNick = TestIrcServer.generateUniqueNick('renamed');
        const got = listener.waitForEvent('nick');
        const own = speaker.waitForEvent('nick');
        await speaker.send('NICK', newNick);
        const [from, to, channels] = await got;
        expect([from, to]).toEqual([oldNick, newNick]);
        expect(channels).toEqual([channel]);
        await own;
        expect(speaker.nick).toBe(newNick);
        expect(listener.chanData(channel)?.users.has(newNick)).toBe(true);
        expect(listener.chanData(channel)?.users.has(oldNick)).toBe(false);
    });

    test('sees a PART with its reason', async () => {
        const { speaker, listener } = server.clients;
        const channel = TestIrcServer.generateUniqueChannel('part');
        await bothIn(channel);
        const got = listener.waitForEvent('part');
        // Not speaker.part(channel, reason): matrix-org-irc 3.0.0 drops a
        // string reason there (it only sets it when given a callback).
        await speaker.send('PART', channel, 'see you later');
        const [chan, nick, reason] = await got;
        expect([chan, nick, reason]).toEqual([channel, speaker.nick, 'see you later']);
        expect(listener.chanData(channel)?.users.has(speaker.nick)).toBe(false);
    });

    test('sees a KICK with its reason, and an INVITE', async () => {
        const { speaker, listener } = server.clients;
        const channel = TestIrcServer.generateUniqueChannel('kick');
        await bothIn(channel);
        const kicked = listener.waitForEvent('kick');
        await speaker.send('KICK', channel, listener.nick, 'out you go');
        const [chan, who, by, reason] = await kicked;
        expect([chan, who, by, reason]).toEqual([channel, listener.nick, speaker.nick, 'out you go']);
        const invited = listener.waitForEvent('invite');
        await speaker.send('INVITE', listener.nick, channel);
        const [ichan, from] = await invited;
        expect([ichan, from]).toEqual([channel, speaker.nick]);
    });

    test('sees a TOPIC change', async () => {
        const { speaker, listener } = server.clients;
        const channel = TestIrcServer.generateUniqueChannel('topic');
        await bothIn(channel);
        const got = listener.waitForEvent('topic');
        await speaker.send('TOPIC', channel, 'a new topic');
        const [chan, topic, by] = await got;
        expect([chan, topic, by]).toEqual([channel, 'a new topic', speaker.nick]);
    });

    test('sees a QUIT with its reason', async () => {
        const { speaker, listener } = server.clients;
        const channel = TestIrcServer.generateUniqueChannel('quit');
        await bothIn(channel);
        const third = new TestClient(server.address, TestIrcServer.generateUniqueNick('third'), {
            port: server.port, autoConnect: false, connectionTimeout: 4000,
        });
        const registered = third.waitForEvent('registered');
        third.connect();
        await registered;
        const joined = listener.waitForEvent('join');
        await third.join(channel);
        await joined;
        const got = listener.waitForEvent('quit');
        third.disconnect('gone fishing');
        const [nick, reason, channels] = await got;
        expect(nick).toBe(third.nick);
        expect(reason).toMatch(/gone fishing$/);
        expect(channels).toEqual([channel]);
        expect(listener.chanData(channel)?.users.has(third.nick)).toBe(false);
    });

    test('WHOIS gives user, host, realname, server and channels', async () => {
        const { speaker, listener } = server.clients;
        const channel = TestIrcServer.generateUniqueChannel('whois');
        await bothIn(channel);
        const info = await new Promise((resolve) => listener.whois(speaker.nick, resolve));
        expect(info).toMatchObject({
            nick: speaker.nick,
            host: '127.0.0.1',
            realname: 'nodeJS IRC client',
            server: 'irc.test',
        });
        expect((info as { user: string }).user).toMatch(/^~?nodebot$/);
        expect((info as { channels: string[] }).channels).toEqual([`@${channel}`]);
    });

    test('a long message is split into lines that fit 512 bytes with the prefix', async () => {
        const { speaker, listener } = server.clients;
        const channel = TestIrcServer.generateUniqueChannel('long');
        await bothIn(channel);
        const words = Array.from({ length: 200 }, (_, i) => `wörd${i}`);
        const text = words.join(' ');
        const expected = speaker.getSplitMessages(channel, text);
        expect(expected.length).toBeGreaterThan(2);
        const lines: { prefix: string, text: string }[] = [];
        const all = new Promise<void>((resolve) => {
            listener.on('message', (from, to, msg, message) => {
                if (from !== speaker.nick || to !== channel) { return; }
                lines.push({ prefix: message.prefix ?? '', text: msg });
                if (lines.length === expected.length) { resolve(); }
            });
        });
        await speaker.say(channel, text);
        await all;
        expect(lines.map(l => l.text)).toEqual(expected);
        expect(lines.map(l => l.text).join(' ').split(' ')).toEqual(words);
        for (const l of lines) {
            const wire = `:${l.prefix} PRIVMSG ${channel} :${l.text}\r\n`;
            expect(Buffer.byteLength(wire)).toBeLessThanOrEqual(512);
        }
    });

    test('a nick in use before 001 gets another nick, and 001 tells which', async () => {
        const { speaker } = server.clients;
        const clash = new TestClient(server.address, speaker.nick, {
            port: server.port, autoConnect: false, connectionTimeout: 4000,
        });
        const registered = clash.waitForEvent('registered');
        clash.connect();
        await registered;
        expect(clash.nick).not.toBe(speaker.nick);
        expect(clash.nick.startsWith(speaker.nick.substring(0, 10))).toBe(true);
        await new Promise<void>((resolve) => clash.disconnect(resolve));
    });

    test('SASL PLAIN logs into a NickServ account; a wrong password is refused', async () => {
        const { speaker, listener } = server.clients;
        const account = speaker.nick;
        const password = `pw-${TestIrcServer.generateUniqueNick('sasl')}`;
        const registered = speaker.waitForEvent('notice');
        await speaker.say('NickServ', `REGISTER ${password}`);
        const [from, , text] = await registered;
        expect(from).toBe('NickServ');
        expect(text).toMatch(/is now registered to you/);

        const bad = new TestClient(server.address, TestIrcServer.generateUniqueNick('bad'), {
            port: server.port, autoConnect: false, connectionTimeout: 4000,
            sasl: true, userName: account, password: 'not-the-password',
        });
        const refused = bad.waitForEvent('sasl_error');
        bad.connect();
        const [error] = await refused;
        expect(error).toBe('err_saslfail');
        bad.destroy();

        const good = new TestClient(server.address, TestIrcServer.generateUniqueNick('good'), {
            port: server.port, autoConnect: false, connectionTimeout: 4000,
            sasl: true, userName: account, password,
        });
        const loggedIn = good.waitForEvent('sasl_loggedin');
        const welcomed = good.waitForEvent('registered');
        good.connect();
        const [, , loggedAs] = await loggedIn;
        expect(loggedAs).toBe(account);
        await welcomed;
        const info = await new Promise((resolve) => listener.whois(good.nick, resolve));
        expect(info).toMatchObject({ nick: good.nick, account });
        await new Promise<void>((resolve) => good.disconnect(resolve));
    });
});
