'use strict';

// A small HTTP service with a fixed, calibrated capacity, for end-to-end
// load-balancing tests. See README.md.
//
// GET /work     costs 1000/capacity ms of process CPU time, served one at a
//               time from a FIFO queue; 503 when the queue is full. With
//               --cpu-share F < 1 it holds the server for 1000/capacity ms
//               of wall-clock time instead, burning CPU for the first F of
//               it and waiting for the rest.
// GET /healthz  "ok" (503 "draining" during shutdown), no CPU cost.
// GET /metrics  Prometheus text exposition (prom-client, own registry).

const http = require('node:http');
const { parseArgs } = require('node:util');
const { performance } = require('node:perf_hooks');
const client = require('prom-client');
const { Agent } = require('./agent');

// served counts the requests of /work answered 200, for the agent's
// reports.
const served = { n: 0 };

const USAGE = `usage: node server.js [--host 127.0.0.1] [--port 8080] [--capacity 40]
                      [--max-queue 200] [--shutdown-timeout 10] [--cpu-share 1]
                      [--gslb URL --gslb-service NAME --gslb-name NAME
                       --gslb-token-file FILE [--gslb-lease 15]]
  --port defaults to $PORT, then 8080; 0 picks a free port.
  --cpu-share F (0 < F <= 1): below 1, /work takes 1000/capacity ms of wall
  time, of which the first F is spent burning CPU; 1 is pure CPU cost.
  --gslb URL: register with gslb's HTTP side (agent.js) as --gslb-name in
  --gslb-service, answered at --host, with a lease of --gslb-lease seconds;
  on SIGTERM drain, wait for cached answers to expire, deregister, exit.`;

// parseConfig turns argv and env into a validated config, or throws an
// Error whose message names the flag.
function parseConfig(argv, env) {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      capacity: { type: 'string', default: '40' },
      'max-queue': { type: 'string', default: '200' },
      'shutdown-timeout': { type: 'string', default: '10' },
      // No default here, so that we can tell whether it was given.
      'cpu-share': { type: 'string' },
      gslb: { type: 'string' },
      'gslb-service': { type: 'string' },
      'gslb-name': { type: 'string' },
      'gslb-token-file': { type: 'string' },
      'gslb-lease': { type: 'string', default: '15' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const num = (name, s, ok, want) => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isFinite(v) || !ok(v)) {
      throw new Error(`--${name} ${JSON.stringify(s)}: want ${want}`);
    }
    return v;
  };
  const portText = values.port ?? env.PORT ?? '8080';
  return {
    help: values.help,
    host: values.host,
    port: num('port', portText, (v) => Number.isInteger(v) && v >= 0 && v <= 65535, 'an integer in 0..65535'),
    capacity: num('capacity', values.capacity, (v) => v > 0 && v <= 1e6, 'requests/s, > 0'),
    maxQueue: num('max-queue', values['max-queue'], (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'),
    shutdownTimeout: num('shutdown-timeout', values['shutdown-timeout'], (v) => v > 0, 'seconds, > 0'),
    cpuShare: num('cpu-share', values['cpu-share'] ?? '1', (v) => v > 0 && v <= 1, 'a fraction, 0 < F <= 1'),
    // cpuShareSet: --cpu-share was given; the start-up line then shows it.
    cpuShareSet: values['cpu-share'] !== undefined,
    gslb: gslbConfig(values, num),
  };
}

// cpuMicros is the CPU time (user + system, all threads) of this process.
function cpuMicros() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

let sink = 0; // keeps the busy loop from being optimised away

// burnUntil spins on the event loop until the process CPU time reaches
// targetMicros. It returns the CPU time it read last.
function burnUntil(targetMicros) {
  let now = cpuMicros();
  let x = sink;
  while (now < targetMicros) {
    for (let i = 0; i < 2000; i++) x = (x * 1103515245 + 12345) % 2147483648;
    now = cpuMicros();
  }
  sink = x;
  return now;
}

// UtilizationWindow keeps the CPU time charged to /work requests with the
// wall interval over which it was charged, and answers what share of the
// last windowMs each interval's CPU time covers.
class UtilizationWindow {
  constructor(windowMs) {
    this.windowMs = windowMs;
    this.items = []; // {start, end, cpuMs}, ordered by end
    this.head = 0;
  }

  add(start, end, cpuMs) {
    this.items.push({ start, end, cpuMs });
    this.prune(end);
  }

  prune(now) {
    const from = now - this.windowMs;
    while (this.head < this.items.length && this.items[this.head].end <= from) this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  // value is the CPU time charged inside [now-windowMs, now], divided by
  // windowMs, clamped to 0..1. An interval that straddles the window start
  // contributes its CPU time in proportion to the part of it inside.
  value(now) {
    this.prune(now);
    const from = now - this.windowMs;
    let cpu = 0;
    for (let i = this.head; i < this.items.length; i++) {
      const { start, end, cpuMs } = this.items[i];
      const span = end - start;
      if (start >= from || span <= 0) cpu += cpuMs;
      else cpu += (cpuMs * (end - from)) / span;
    }
    return Math.min(1, Math.max(0, cpu / this.windowMs));
  }
}

function newMetrics(registry, cfg, window, queue) {
  client.collectDefaultMetrics({ register: registry });
  new client.Gauge({
    name: 'app_active_requests',
    help: 'Requests to /work in flight: queued or being served.',
    registers: [registry],
    collect() {
      this.set(queue.length);
    },
  });
  const duration = new client.Histogram({
    name: 'app_request_duration_seconds',
    help: 'Time from reading a /work request to writing its 200 response.',
    buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5],
    registers: [registry],
  });
  const requests = new client.Counter({
    name: 'app_requests_total',
    help: '/work responses by status code (499: client left before it was served).',
    labelNames: ['code'],
    registers: [registry],
  });
  for (const code of ['200', '499', '503']) requests.inc({ code }, 0);
  const capacity = new client.Gauge({
    name: 'app_capacity_rps',
    help: queue.wall
      ? 'Configured capacity of /work in requests per second of wall-clock time.'
      : 'Configured capacity of /work in requests per second of process CPU time.',
    registers: [registry],
  });
  capacity.set(cfg.capacity);
  new client.Gauge({
    name: 'app_utilization',
    help: queue.wall
      ? 'Wall-clock time the /work server was busy over the last 1 s, divided by 1 s (0..1).'
      : 'CPU time charged to /work over the last 1 s, divided by 1 s (0..1).',
    registers: [registry],
    collect() {
      // In wall mode a request can wait for most of a second without a
      // charge; count its busy time up to now.
      if (queue.wall && queue.mark !== null) queue.charge(cpuMicros());
      this.set(window.value(performance.now()));
    },
  });
  return { duration, requests };
}

// gone: the client of job has closed its connection.
function gone(job) {
  return job.res.destroyed || job.req.socket.destroyed;
}

// EARLY_MS: a waiting request whose timer fires this close to the end of
// its service time completes rather than waits again. The next request's
// service starts at the exact end, so this shifts no throughput.
const EARLY_MS = 0.5;

// SLICE_MICROS is how much CPU time /work burns before it yields to the
// event loop. libuv (since 1.45, Node 20) accepts one new connection per
// loop turn and reads a new connection's first request one turn later, so
// burning a whole request per turn would let new connections pile up in the
// kernel's accept queue, unseen by --max-queue, and keep /healthz waiting
// a whole request. With 1 ms slices the loop turns about 1000 times per
// CPU second whatever the cost of a request.
const SLICE_MICROS = 1000;

// WorkQueue serves /work requests one at a time in arrival order. The
// request at the head is in service: it burns CPU in slices, one slice per
// event loop turn (setImmediate), until the process CPU time reaches its
// start plus costMicros. Its start is the CPU time at which the previous
// request completed, or at which the queue became non-empty. So while the
// queue is not empty, all CPU time of the process (the slices, and whatever
// runs between them: accepting, parsing, 503s, /metrics) is charged to the
// request in service, and under saturation requests complete at exactly
// one per costMicros of process CPU time.
//
// With cpuShare < 1 (wall mode, runWall below) a request holds the server
// for costMicros of wall-clock time instead: it burns cpuShare×costMicros
// of process CPU time in the same slices, then waits on a timer until the
// end of its service time, then completes. The CPU account works as above
// (all CPU time of the process while the queue is not empty counts toward
// the burn of the request in service, including the time its predecessor
// spent waiting), so under saturation the process uses cpuShare of a core
// and requests complete at one per costMicros of wall time. The window
// then records busy wall time rather than CPU time.
class WorkQueue {
  constructor(costMicros, window, cpuShare = 1) {
    this.costMicros = costMicros;
    this.window = window;
    this.wall = cpuShare < 1;
    this.costMs = costMicros / 1000;
    this.burnMicros = costMicros * cpuShare;
    this.metrics = null; // {duration, requests}, set before the first push
    this.draining = false; // shutting down: answers carry Connection: close
    this.onIdle = null; // called when the queue becomes empty
    this.jobs = [];
    this.head = 0;
    this.scheduled = false;
    // mark is the {cpu, wall} up to which CPU time has been charged, or
    // null when the queue is empty and nothing is being charged.
    this.mark = null;
    // start is the process CPU time at which the head's service began.
    this.start = 0;
    // Wall mode only. w0: the wall time at which the head's service began.
    // burnt: the head's CPU part is done. waited: the head has waited on
    // the timer. timer, waiting: the pending timer and the job it is for.
    this.w0 = 0;
    this.burnt = false;
    this.waited = false;
    this.timer = null;
    this.waiting = null;
    this.run = (this.wall ? this.runWall : this.run).bind(this);
    this.wake = this.wake.bind(this);
  }

  get length() {
    return this.jobs.length - this.head;
  }

  // push queues a request; job is {req, res, t0}.
  push(job) {
    this.jobs.push(job);
    this.schedule();
  }

  schedule() {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  shift() {
    this.jobs[this.head++] = undefined;
    if (this.head === this.jobs.length) {
      this.jobs = [];
      this.head = 0;
    }
  }

  // charge records the CPU time since the mark, as time spent on /work;
  // in wall mode, the wall time since the mark, as time the server was busy.
  charge(cpu) {
    const wall = performance.now();
    const busyMs = this.wall ? wall - this.mark.wall : (cpu - this.mark.cpu) / 1000;
    this.window.add(this.mark.wall, wall, busyMs);
    this.mark = { cpu, wall };
  }

  // run does one slice of the request at the head of the queue.
  run() {
    this.scheduled = false;
    if (this.mark === null) {
      this.mark = { cpu: cpuMicros(), wall: performance.now() };
      this.start = this.mark.cpu;
    }
    let job = this.jobs[this.head];
    // A request whose client has gone is dropped, even in service.
    while (job !== undefined && gone(job)) {
      this.charge(cpuMicros());
      this.start = this.mark.cpu;
      this.shift();
      this.metrics.requests.inc({ code: '499' });
      job = this.jobs[this.head];
    }
    if (job !== undefined) {
      const target = this.start + this.costMicros;
      const cpu = burnUntil(Math.min(target, cpuMicros() + SLICE_MICROS));
      this.charge(cpu);
      if (cpu >= target) {
        // The overshoot past target (a few µs) is charged to the next one.
        this.start = target;
        this.shift();
        reply(job.res, 200, 'done\n', this.draining);
        this.metrics.requests.inc({ code: '200' });
        served.n++;
        this.metrics.duration.observe((performance.now() - job.t0) / 1000);
      }
    }
    if (this.length > 0) {
      this.schedule();
    } else {
      this.mark = null;
      if (this.onIdle) this.onIdle();
    }
  }

  // runWall does one step of the request at the head of the queue in wall
  // mode: a slice of its burn, or the start or end of its wait.
  runWall() {
    this.scheduled = false;
    this.timer = null;
    this.waiting = null;
    if (this.mark === null) {
      this.mark = { cpu: cpuMicros(), wall: performance.now() };
      this.start = this.mark.cpu;
      this.w0 = this.mark.wall;
      this.burnt = false;
      this.waited = false;
    }
    let job = this.jobs[this.head];
    // A request whose client has gone is dropped, even in service; the next
    // one's service starts now.
    while (job !== undefined && gone(job)) {
      this.charge(cpuMicros());
      this.start = this.mark.cpu;
      this.w0 = this.mark.wall;
      this.burnt = false;
      this.waited = false;
      this.shift();
      this.metrics.requests.inc({ code: '499' });
      job = this.jobs[this.head];
    }
    if (job !== undefined) {
      // Service cannot start before the request arrived (the previous one's
      // late timer may carry the start back, see below).
      if (this.w0 < job.t0) this.w0 = job.t0;
      if (!this.burnt) {
        const target = this.start + this.burnMicros;
        const cpu = burnUntil(Math.min(target, cpuMicros() + SLICE_MICROS));
        this.charge(cpu);
        if (cpu >= target) {
          this.burnt = true;
          this.start = target; // CPU used from here on counts for the next
        }
      }
      if (this.burnt) {
        const deadline = this.w0 + this.costMs;
        const now = performance.now();
        if (deadline - now > EARLY_MS) {
          // Wait, holding the server. A client that leaves meanwhile wakes
          // us up (wake), so that the server is freed at once.
          this.scheduled = true;
          this.waited = true;
          this.waiting = job;
          this.timer = setTimeout(this.run, deadline - now);
          if (!job.watched) {
            job.watched = true;
            job.res.once('close', this.wake);
          }
          return;
        }
        this.charge(cpuMicros());
        this.shift();
        reply(job.res, 200, 'done\n', this.draining);
        this.metrics.requests.inc({ code: '200' });
        served.n++;
        this.metrics.duration.observe((performance.now() - job.t0) / 1000);
        // The next service starts at this one's end, so that a timer that
        // fires late (by up to a few ms) costs no throughput. If the burn
        // itself ran past the end (too little CPU), or the timer was later
        // than a whole service time, it starts now: no catching up.
        this.w0 = this.waited && now - deadline < this.costMs ? deadline : Math.max(deadline, now);
        this.burnt = false;
        this.waited = false;
      }
    }
    if (this.length > 0) {
      this.schedule();
    } else {
      this.mark = null;
      if (this.onIdle) this.onIdle();
    }
  }

  // wake is called when the response of a waiting request closes. If its
  // client has gone, it ends the wait now, and run drops the request.
  wake() {
    if (this.timer === null || this.waiting === null || !gone(this.waiting)) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.waiting = null;
    setImmediate(this.run); // this.scheduled stays true
  }
}

// gslbConfig is the agent's settings, null without --gslb.
function gslbConfig(values, num) {
  if (values.gslb === undefined) return null;
  for (const k of ['gslb-service', 'gslb-name', 'gslb-token-file']) {
    if (!values[k]) throw new Error(`--gslb needs --${k}`);
  }
  let url;
  try {
    url = new URL(values.gslb);
  } catch {
    throw new Error(`--gslb ${JSON.stringify(values.gslb)}: want gslb's HTTP URL, http://host:port`);
  }
  return {
    url: url.href,
    service: values['gslb-service'],
    name: values['gslb-name'],
    tokenFile: values['gslb-token-file'],
    lease: num('gslb-lease', values['gslb-lease'], (v) => v >= 5 && v <= 3600, 'seconds, 5..3600'),
  };
}

function reply(res, code, body, close, headers = {}) {
  res.writeHead(code, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...(close ? { Connection: 'close' } : {}),
    ...headers,
  });
  res.end(body);
}

function main() {
  let cfg;
  try {
    cfg = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`server.js: ${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (cfg.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }

  const registry = new client.Registry();
  const window = new UtilizationWindow(1000);
  const queue = new WorkQueue(1e6 / cfg.capacity, window, cfg.cpuShare);
  const metrics = newMetrics(registry, cfg, window, queue);
  queue.metrics = metrics;

  const server = http.createServer((req, res) => {
    const t0 = performance.now();
    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/work' && req.method === 'GET') {
      if (queue.length >= cfg.maxQueue) {
        metrics.requests.inc({ code: '503' });
        reply(res, 503, 'queue full\n', queue.draining);
        return;
      }
      queue.push({ req, res, t0 });
    } else if (path === '/healthz' && get) {
      if (queue.draining) reply(res, 503, 'draining\n', true);
      else reply(res, 200, 'ok\n', false);
    } else if (path === '/metrics' && get) {
      registry.metrics().then(
        (text) => reply(res, 200, text, queue.draining, { 'Content-Type': registry.contentType }),
        (err) => reply(res, 500, `${err.message}\n`, queue.draining),
      );
    } else if (path === '/work' || path === '/healthz' || path === '/metrics') {
      reply(res, 405, 'method not allowed\n', queue.draining, { Allow: path === '/work' ? 'GET' : 'GET, HEAD' });
    } else {
      reply(res, 404, 'not found\n', queue.draining);
    }
  });

  server.on('error', (err) => {
    process.stderr.write(`server.js: listen ${cfg.host}:${cfg.port}: ${err.message}\n`);
    process.exit(1);
  });

  let agent = null;
  server.listen(cfg.port, cfg.host, () => {
    if (cfg.gslb) {
      const token = require('node:fs').readFileSync(cfg.gslb.tokenFile, 'utf8').trim();
      agent = new Agent({
        ...cfg.gslb,
        token,
        address: cfg.host,
        capacity: cfg.capacity,
        served: () => served.n,
        log: (line) => process.stderr.write(`server.js: gslb: ${line}\n`),
      });
      agent.start().catch((err) => {
        process.stderr.write(`server.js: gslb: ${err.message}\n`);
        process.exit(1);
      });
    }
    const { address, port } = server.address();
    const host = address.includes(':') ? `[${address}]` : address;
    process.stdout.write(
      `listening ${host}:${port} capacity=${cfg.capacity} cost_ms=${(1000 / cfg.capacity).toFixed(3)} max_queue=${cfg.maxQueue}` +
        (cfg.cpuShareSet ? ` cpu_share=${cfg.cpuShare}` : '') +
        '\n',
    );
  });

  // Shutdown: stop listening, close idle connections, serve what is
  // queued (each response with Connection: close), then exit 0; exit 1 if
  // that takes longer than --shutdown-timeout.
  const shutdown = (signal) => {
    if (queue.draining) return;
    queue.draining = true;
    const timer = setTimeout(() => {
      process.stderr.write(`server.js: shutdown took longer than ${cfg.shutdownTimeout}s, ${queue.length} requests left\n`);
      server.closeAllConnections();
      process.exit(1);
    }, cfg.shutdownTimeout * 1000);
    timer.unref();
    server.close(() => {
      process.stderr.write('server.js: stopped\n');
      process.exit(0);
    });
    server.closeIdleConnections();
    process.stderr.write(`server.js: ${signal}: stopped listening, draining ${queue.length} queued requests\n`);
    // A keep-alive connection that was busy when we closed becomes idle
    // after its response; close those too.
    queue.onIdle = () => server.closeIdleConnections();
  };
  // With an agent, SIGTERM first drains the instance in gslb and keeps
  // serving until the last cached answer naming it has expired.
  let stopping = false;
  const stop = (signal) => {
    if (!agent) return shutdown(signal);
    if (stopping) return;
    stopping = true;
    agent.drain().then(
      () => shutdown(signal),
      (err) => {
        process.stderr.write(`server.js: gslb: ${err.message}\n`);
        shutdown(signal);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) main();

module.exports = { parseConfig, UtilizationWindow };
