// One load-generating process in Node.js (ws): the same clients as ops/bench/client.py.
//
// Each client opens ws://HOST/rooms/<slug>/ws with its session cookie and an Origin, says
// {"hello": true, "last_seq": 0} and reads fragments; senders post {"body": "b <index>
// <time_ns>"} at their scheduled times; every client takes the receipt time of each message
// as soon as its frame arrives. The orchestrator (ops/bench/fanout.py) speaks JSON lines:
//   stdin  {config}                        first line: what client.py's WorkerConfig holds
//   stdout {"kind":"connected", ...}       every client has connected or failed
//   stdin  {"kind":"go","start_at":T}      post from T (epoch seconds) on, receive until done
//   stdout {"kind":"done", ...}            counts, latency histogram, own CPU
//   stdin  {"kind":"close"}                close the sockets and exit
import { createInterface } from "node:readline";
import WebSocket from "ws";

const BODY = /<p class="body"[^>]*>b (\d+) (\d+)<\/p>/g;
const COMPOSER_ERROR = /id="composer-error"[^>]*>([^<]+)<\/p>/;
const LOG_BASE = Math.log(1.02); // histogram bins grow by 2 %, as in client.py

const nowNs = () => (performance.timeOrigin + performance.now()) * 1e6; // float, ~µs exact
const send = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const lines = createInterface({ input: process.stdin });
const inbox = [];
let waiting = null;
lines.on("line", (line) => {
  const msg = JSON.parse(line);
  if (waiting) {
    const w = waiting;
    waiting = null;
    w(msg);
  } else inbox.push(msg);
});
const nextCommand = () =>
  inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => (waiting = r));

const config = await nextCommand();
const S = config.sender_count;
const M = config.messages_per_sender;
const expectedEach = S * M;
const totals = {
  received: 0, duplicates: 0, postErrors: 0, errorsSeen: new Set(), histogram: new Map(),
  maxMicros: 0, closed: {}, complete: 0, left: 0,
};
let allDone = null;
const allDonePromise = new Promise((r) => (allDone = r));
if (expectedEach === 0) allDone();

class Client {
  constructor(cookie) {
    this.cookie = cookie;
    this.got = new Uint8Array(expectedEach);
    this.received = 0;
    this.ws = null;
    this.open = false;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(config.ws_url, {
        headers: { Cookie: `session=${this.cookie}` },
        origin: config.origin,
        perMessageDeflate: config.deflate,
        handshakeTimeout: 60000,
      });
      this.ws = ws;
      ws.once("open", () => {
        this.open = true;
        ws.send('{"hello": true, "last_seq": 0}');
        resolve(this);
      });
      ws.once("error", (e) => (this.open ? null : reject(e)));
      ws.on("message", (data) => this.take(data.toString()));
      ws.on("close", (code) => {
        if (this.open) totals.closed[code] = (totals.closed[code] || 0) + 1;
        this.open = false;
      });
    });
  }

  take(frame) {
    const now = nowNs();
    if (!frame.includes('class="msg"')) {
      const error = frame.includes("composer-error") && COMPOSER_ERROR.exec(frame);
      if (error) {
        totals.postErrors++;
        totals.errorsSeen.add(error[1].slice(0, 80));
      }
      return;
    }
    for (const match of frame.matchAll(BODY)) {
      const index = Number(match[1]);
      if (index >= this.got.length || this.got[index]) {
        totals.duplicates++;
        continue;
      }
      this.got[index] = 1;
      this.received++;
      totals.received++;
      const micros = Math.max(1, Math.floor((now - Number(match[2])) / 1000));
      const bin = Math.floor(Math.log(micros) / LOG_BASE);
      totals.histogram.set(bin, (totals.histogram.get(bin) || 0) + 1);
      if (micros > totals.maxMicros) totals.maxMicros = micros;
    }
    if (this.received === expectedEach && expectedEach > 0) {
      totals.complete++;
      if (--totals.left === 0) allDone();
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

// -- connect, paced, at most 256 handshakes at once --------------------------------------
const started = Date.now() / 1000;
const clients = config.cookies.map((c) => new Client(c));
const failures = {};
let inFlight = 0;
const slots = [];
const acquire = () =>
  inFlight < 256 ? (inFlight++, Promise.resolve()) : new Promise((r) => slots.push(r));
const release = () => (slots.length ? slots.shift()() : inFlight--);
await Promise.all(
  clients.map(async (client, i) => {
    await sleep((started + i / config.connect_rate) * 1000 - Date.now());
    await acquire();
    try {
      await client.connect();
    } catch (e) {
      const key = `${e.name}: ${String(e.message).slice(0, 60)}`;
      failures[key] = (failures[key] || 0) + 1;
      client.ws = null;
    } finally {
      release();
    }
  }),
);
const live = clients.filter((c) => c.ws && c.open);
totals.left = live.length;
send({ kind: "connected", connected: live.length, failures, seconds: Date.now() / 1000 - started });

// -- post and receive ----------------------------------------------------------------------
const go = await nextCommand();
const cpuBefore = process.cpuUsage();
let posted = 0;
const posting = Object.entries(config.senders).map(async ([local, sender]) => {
  const client = clients[Number(local)];
  if (!client.ws || !client.open) return;
  for (let k = 0; k < M; k++) {
    const index = k * S + sender;
    await sleep((go.start_at + index / config.rate) * 1000 - Date.now());
    if (!client.open) break;
    client.ws.send(`{"body": "b ${index} ${Math.round(nowNs())}"}`);
    posted++;
  }
});
const lastPost = go.start_at + (expectedEach - 1) / Math.max(config.rate, 1e-9);
const deadline = lastPost + config.drain_seconds;
await Promise.race([allDonePromise, sleep(deadline * 1000 - Date.now())]);
const finished = Date.now() / 1000;
await Promise.all(posting);
const cpu = process.cpuUsage(cpuBefore);
const missing = new Set();
const lacking = [];
for (const c of live) {
  if (c.received >= expectedEach) continue;
  if (lacking.length < 3) lacking.push([c.received, 0, ""]);
  for (let i = 0; i < expectedEach && missing.size < 20; i++) if (!c.got[i]) missing.add(i);
}
send({
  kind: "done",
  clients: live.length,
  held: live.filter((c) => c.open).length,
  posted,
  received: totals.received,
  duplicates: totals.duplicates,
  complete_clients: totals.complete,
  post_errors: totals.postErrors,
  errors_seen: [...totals.errorsSeen].slice(0, 5),
  histogram: Object.fromEntries(totals.histogram),
  max_micros: totals.maxMicros,
  closed: totals.closed,
  missing: [...missing].sort((a, b) => a - b),
  lacking,
  finished,
  cpu_seconds: (cpu.user + cpu.system) / 1e6,
});

await nextCommand(); // close
for (const c of live) c.ws.terminate();
process.exit(0);
