// tern-adapter.mjs — the peers' load driver (../shared/peers, lib/runner.mjs) speaking
// Tern's protocol, so ternd runs the very workload the peers (mosquitto, NATS, ejabberd)
// were measured with, through the same Node driver. See docs/performance.md.
//
// Setup goes through the REST API with the app of TERN_APP_FILE (ternd writes
// <data>/demo-app.json on first start): each connection is a new user (POST users),
// gets a user token (POST users/{u}/token) and logs in over WebSocket (tern.v1); joining
// group g adds the user to group "<tag>g<g>" (created by its first joiner). Senders are
// members too (Tern refuses sends from non-members); the protocol does not echo a
// message to the session that sent it, so each message has M deliveries, as for the
// peers. A delivery's text is the driver's payload object; the `msg` event carries it
// JSON-escaped, so the adapter unescapes the head ({"ts":..,"st":..) it needs.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(`${process.env.PEERS_DIR}/package.json`);
const WebSocket = require('ws');

const app = JSON.parse(readFileSync(process.env.TERN_APP_FILE, 'utf8'));
const tag = `p${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}_`;
let base = null;      // http://host:port/org/app
let appToken = null;  // Promise<string>
const groups = new Map(); // g -> Promise<void> (created)

async function rest(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(appToken ? { authorization: `Bearer ${await appToken}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

function setup(url) {
  if (base) return;
  const u = new URL(url);
  base = `http://${u.host}/${app.org}/${app.app}`;
  appToken = fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: app.client_id, client_secret: app.client_secret }),
  }).then((r) => r.json()).then((j) => j.access_token);
}

export default {
  name: 'tern',
  defaultUrl: 'ws://127.0.0.1:18100/ws',
  async connect({ id, url }) {
    setup(url);
    const user = `${tag}${id}`;
    await rest('POST', '/users', { username: user });
    const tok = (await rest('POST', `/users/${user}/token`, { ttl: 86400 })).data.access_token;
    const ws = new WebSocket(url, 'tern.v1', { perMessageDeflate: false });
    const c = { ws, user, fn: null, n: 1, ready: null };
    ws.on('message', (data) => {
      const s = data.toString();
      if (s.startsWith('{"ev":"msg"')) {
        const i = s.indexOf('{\\"ts\\":');
        if (i >= 0 && c.fn) c.fn(s.slice(i, i + 96).replaceAll('\\"', '"'));
      } else if (s.startsWith('{"ev":"ready"') && c.ready) {
        c.ready();
      }
    });
    ws.on('error', () => {});
    await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
    await new Promise((res, rej) => {
      c.ready = res;
      setTimeout(() => rej(new Error(`login ${user} timeout`)), 30000).unref();
      ws.send(JSON.stringify({ op: 'login', id: c.n++, app: `${app.org}/${app.app}`, user, token: tok }));
    });
    return c;
  },
  onMessage(c, fn) { c.fn = fn; },
  async join(c, g) {
    const gid = `${tag}g${g}`;
    if (!groups.has(g)) groups.set(g, rest('POST', '/chatgroups', { groupid: gid, groupname: gid, owner: c.user, maxusers: 100000, members: [] }));
    await groups.get(g);
    await rest('POST', `/chatgroups/${gid}/users/${c.user}`);
    c.to = gid;
  },
  async subscribePersonal() { /* workload B: a logged-in session is all Tern needs */ },
  publish(c, g, s) {
    c.ws.send(`{"op":"send","id":${c.n++},"msg":{"conversationType":"GROUP","to":"${tag}g${g}","type":"TIMTextElem","payload":{"text":${JSON.stringify(s)}}}}`);
  },
  async close(c) { c.ws.terminate(); },
};
