'use strict';

// Tests start server.js as a child process on 127.0.0.1 port 0 and wait for
// its "listening HOST:PORT ..." line: no fixed ports, no start-up sleeps.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { performance } = require('node:perf_hooks');
const { parseConfig, UtilizationWindow } = require('../server.js');

const SERVER = path.join(__dirname, '..', 'server.js');
// Every test that starts a server ends within this, pass or fail.
const BOUNDED = { timeout: 20_000 };

// start runs server.js with args and resolves once it has printed its
// listening line. The process is killed when the test t ends.
function start(t, args) {
  const proc = spawn(process.execPath, [SERVER, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    return exited;
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (s) => (stderr += s));
  // waitStderr resolves once stderr matches re.
  const waitStderr = (re) =>
    new Promise((resolve) => {
      const check = () => {
        if (!re.test(stderr)) return false;
        proc.stderr.off('data', check);
        resolve();
        return true;
      };
      if (!check()) proc.stderr.on('data', check);
    });
  proc.stdout.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 5s; stdout ${stdout} stderr ${stderr}`)), 5000);
    proc.stdout.on('data', (s) => {
      stdout += s;
      const m = /^listening 127\.0\.0\.1:(\d+) capacity=(\S+) cost_ms=(\S+) max_queue=(\d+)(?: cpu_share=(\S+))?$/m.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]), line: m[0], exited, waitStderr });
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
}

// get does one request and resolves with status, headers, body and the
// client-side latency in ms. agent false: a connection of its own.
function get(port, urlPath, { agent = false, method = 'GET' } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(8000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 8s`)));
    req.end();
  });
}

// burst opens n connections, waits until all are connected, then writes
// GET path on each in one loop, so that the requests reach the server
// together however the machine schedules this process. It resolves with
// one {status, body, ms} or {error} per request; beforeAnswer(sockets) is
// called when the first answer arrives.
async function burst(port, n, urlPath, beforeAnswer) {
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve, reject) => {
          const c = net.connect({ host: '127.0.0.1', port }, () => resolve(c));
          c.once('error', reject);
        }),
    ),
  );
  let first = true;
  const answers = sockets.map(
    (c) =>
      new Promise((resolve) => {
        let raw = '';
        const t0 = performance.now();
        c.setEncoding('latin1');
        c.setTimeout(8000, () => c.destroy(new Error('no answer in 8s')));
        c.on('data', (d) => {
          raw += d;
          if (first) {
            first = false;
            if (beforeAnswer) beforeAnswer(sockets);
          }
        });
        c.on('error', (error) => resolve({ error }));
        c.on('close', () => {
          const m = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n(?:[^\r]*\r\n)*\r\n([\s\S]*)$/.exec(raw);
          resolve(m ? { status: Number(m[1]), body: m[2], ms: performance.now() - t0 } : { error: new Error(`closed after ${JSON.stringify(raw)}`) });
        });
      }),
  );
  for (const c of sockets) c.write(`GET ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  return Promise.all(answers);
}

// parseMetrics parses the Prometheus text format into TYPE lines and
// samples keyed by name plus the label text as written, e.g.
// 'app_requests_total{code="200"}'. It fails on a line it cannot parse.
function parseMetrics(text) {
  const types = new Map();
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      types.set(m[1], m[2]);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable metrics line: ${JSON.stringify(line)}`);
    // prom-client writes NaN as "Nan"; Prometheus (Go strconv.ParseFloat)
    // takes NaN and Inf in any case, and so do we.
    const special = { '+inf': Infinity, inf: Infinity, '-inf': -Infinity, nan: NaN };
    const word = m[3].toLowerCase();
    const v = word in special ? special[word] : Number(m[3]);
    assert.ok(!Number.isNaN(v) || word === 'nan', `bad value in ${JSON.stringify(line)}`);
    samples.set(m[1] + (m[2] ?? ''), v);
  }
  return { types, samples };
}

async function scrape(port) {
  const r = await get(port, '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return { at: performance.now(), ...parseMetrics(r.body) };
}

function sample(m, key) {
  assert.ok(m.samples.has(key), `metrics lack ${key}`);
  return m.samples.get(key);
}

test('parseConfig', async (t) => {
  const ok = [
    [[], {}, { host: '127.0.0.1', port: 8080, capacity: 40, maxQueue: 200, shutdownTimeout: 10 }],
    [[], { PORT: '9000' }, { port: 9000 }],
    [['--port', '0'], { PORT: '9000' }, { port: 0 }],
    [['--port=8081', '--capacity=12.5', '--max-queue', '3', '--host', '::1'], {}, { port: 8081, capacity: 12.5, maxQueue: 3, host: '::1' }],
    [[], {}, { gslb: null }],
  ];
  for (const [argv, env, want] of ok) {
    await t.test(argv.join(' ') || `env ${JSON.stringify(env)}`, () => {
      const got = parseConfig(argv, env);
      for (const [k, v] of Object.entries(want)) assert.equal(got[k], v, k);
    });
  }
  const bad = [
    [['--capacity', '0'], '--capacity "0": want requests/s, > 0'],
    [['--capacity', 'x'], '--capacity "x": want requests/s, > 0'],
    [['--port', '70000'], '--port "70000": want an integer in 0..65535'],
    [['--port', ''], '--port "": want an integer in 0..65535'],
    [['--max-queue', '0'], '--max-queue "0": want an integer >= 1'],
    [['--max-queue', '1.5'], '--max-queue "1.5": want an integer >= 1'],
    [['--shutdown-timeout=-1'], '--shutdown-timeout "-1": want seconds, > 0'],
    [['--gslb', 'http://127.0.0.1:9153'], '--gslb needs --gslb-service'],
    [['--gslb', 'http://127.0.0.1:9153', '--gslb-service', 'api.example.com'], '--gslb needs --gslb-name'],
    [['--gslb', 'nowhere', '--gslb-service', 'a', '--gslb-name', 'b', '--gslb-token-file', 't'], '--gslb "nowhere": want gslb\'s HTTP URL, http://host:port'],
    [['--gslb', 'http://x:1', '--gslb-service', 'a', '--gslb-name', 'b', '--gslb-token-file', 't', '--gslb-lease', '1'], '--gslb-lease "1": want seconds, 5..3600'],
  ];
  for (const [argv, msg] of bad) {
    await t.test(argv.join(' '), () => assert.throws(() => parseConfig(argv, {}), { message: msg }));
  }
  await t.test('unknown flag', () => assert.throws(() => parseConfig(['--cap', '3'], {}), /Unknown option '--cap'/));
  await t.test('--gslb', () => {
    const got = parseConfig(['--gslb', 'http://127.0.0.1:9153', '--gslb-service', 'api.example.com', '--gslb-name', 'web-1', '--gslb-token-file', 'api.token'], {});
    assert.deepEqual(got.gslb, { url: 'http://127.0.0.1:9153/', service: 'api.example.com', name: 'web-1', tokenFile: 'api.token', lease: 15 });
  });
});

test('UtilizationWindow counts CPU time inside the last window, pro rata at its start', () => {
  const w = new UtilizationWindow(1000);
  assert.equal(w.value(0), 0);
  w.add(0, 100, 100); // 100 ms CPU over [0, 100]
  w.add(500, 600, 50); // 50 ms CPU over [500, 600]
  assert.equal(w.value(600), 0.15);
  assert.equal(w.value(1050), 0.1); // half of the first is inside [50, 1050]
  assert.equal(w.value(1100), 0.05);
  assert.equal(w.value(1600), 0);
  w.add(1600, 1600, 2000);
  assert.equal(w.value(1600), 1); // clamped
});

test('bad flags exit 2 with the flag named', BOUNDED, async () => {
  const proc = spawn(process.execPath, [SERVER, '--capacity=-3'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (s) => (stderr += s));
  const code = await new Promise((resolve) => proc.on('exit', resolve));
  assert.equal(code, 2);
  assert.match(stderr, /^server\.js: --capacity "-3": want requests\/s, > 0\nusage:/);
});

test('healthz, work, routing and metrics', BOUNDED, async (t) => {
  const s = await start(t, ['--capacity', '40']);
  assert.match(s.line, /capacity=40 cost_ms=25\.000 max_queue=200$/);

  const before = await scrape(s.port);
  const want = {
    app_active_requests: 'gauge',
    app_request_duration_seconds: 'histogram',
    app_requests_total: 'counter',
    app_capacity_rps: 'gauge',
    app_utilization: 'gauge',
    nodejs_eventloop_lag_seconds: 'gauge',
    process_cpu_seconds_total: 'counter',
  };
  for (const [name, type] of Object.entries(want)) assert.equal(before.types.get(name), type, name);
  assert.equal(sample(before, 'app_active_requests'), 0);
  assert.equal(sample(before, 'app_capacity_rps'), 40);
  assert.equal(sample(before, 'app_utilization'), 0);
  assert.equal(sample(before, 'app_requests_total{code="200"}'), 0);
  assert.equal(sample(before, 'app_requests_total{code="503"}'), 0);
  for (const le of ['0.005', '0.05', '1', '5', '+Inf']) {
    assert.equal(sample(before, `app_request_duration_seconds_bucket{le="${le}"}`), 0);
  }
  sample(before, 'nodejs_eventloop_lag_seconds');

  const h = await get(s.port, '/healthz');
  assert.equal(h.status, 200);
  assert.equal(h.body, 'ok\n');

  const tWork = performance.now();
  for (let i = 0; i < 3; i++) {
    const w = await get(s.port, '/work?i=' + i);
    assert.equal(w.status, 200);
    assert.equal(w.body, 'done\n');
    assert.ok(w.ms >= 20, `/work answered in ${w.ms.toFixed(1)} ms, want about 25`);
  }
  assert.equal((await get(s.port, '/nope')).status, 404);
  const post = await get(s.port, '/work', { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET');

  const after = await scrape(s.port);
  assert.equal(sample(after, 'app_requests_total{code="200"}'), 3);
  assert.equal(sample(after, 'app_request_duration_seconds_count'), 3);
  assert.equal(sample(after, 'app_request_duration_seconds_bucket{le="+Inf"}'), 3);
  assert.equal(sample(after, 'app_request_duration_seconds_bucket{le="0.02"}'), 0);
  const sum = sample(after, 'app_request_duration_seconds_sum');
  assert.ok(sum >= 0.07 && sum < 1, `duration sum ${sum}, want about 0.075`);
  // Three requests of 25 ms CPU each, all inside the last second unless
  // this machine is very slow today.
  const u = sample(after, 'app_utilization');
  assert.ok(u > 0 && u <= 0.12, `utilization ${u}, want about 0.075`);
  if (after.at - tWork < 900) assert.ok(u >= 0.07, `utilization ${u}, want about 0.075`);
});

test('503 when more than --max-queue requests are in flight', BOUNDED, async (t) => {
  const s = await start(t, ['--capacity', '20', '--max-queue', '2']);
  const n = 8;
  const rs = await burst(s.port, n, '/work');
  const ok = rs.filter((r) => r.status === 200);
  const full = rs.filter((r) => r.status === 503);
  assert.equal(ok.length + full.length, n, `statuses ${rs.map((r) => r.status)}`);
  assert.ok(full.length >= 1 && ok.length >= 2, `${ok.length} × 200, ${full.length} × 503`);
  for (const r of full) assert.equal(r.body, 'queue full\n');
  // A 503 waits for at most the request being served, never for the queue.
  const slowest503 = Math.max(...full.map((r) => r.ms));
  const slowest200 = Math.max(...ok.map((r) => r.ms));
  assert.ok(slowest503 < slowest200, `503 in ${slowest503.toFixed(1)} ms, 200 in ${slowest200.toFixed(1)} ms`);
  const m = await scrape(s.port);
  assert.equal(sample(m, 'app_requests_total{code="503"}'), full.length);
  assert.equal(sample(m, 'app_requests_total{code="200"}'), ok.length);
  assert.equal(sample(m, 'app_active_requests'), 0);
  assert.equal((await get(s.port, '/work')).status, 200);
});

test('a request whose client left is not served (499)', BOUNDED, async (t) => {
  const s = await start(t, ['--capacity', '10']);
  // When the first answer arrives, the second request is in service (100 ms
  // of CPU) and the third queued; drop both.
  const rs = await burst(s.port, 3, '/work', (sockets) => {
    for (const c of sockets) if (c.bytesRead === 0) c.destroy();
  });
  assert.equal(rs.filter((r) => r.status === 200).length, 1, `outcomes ${JSON.stringify(rs)}`);
  let m = await scrape(s.port);
  for (let i = 0; sample(m, 'app_active_requests') > 0; i++) {
    assert.ok(i < 10, 'dropped requests still in flight');
    m = await scrape(s.port);
  }
  assert.equal(sample(m, 'app_requests_total{code="200"}'), 1);
  assert.equal(sample(m, 'app_requests_total{code="499"}'), 2);
});

// Saturate with 8 requests in flight for 2 s after a short warm-up. Under
// saturation the server charges exactly 1000/capacity ms of process CPU
// time per request, so requests per CPU second must be the capacity, and
// requests per wall second too unless the machine starves the process.
for (const capacity of [20, 40]) {
  test(`throughput under saturation is --capacity ${capacity} ± 20 %`, BOUNDED, async (t) => {
    const s = await start(t, ['--capacity', String(capacity)]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    t.after(() => agent.destroy());
    let stop = false;
    const codes = {};
    const workers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const r = await get(s.port, '/work', { agent });
        codes[r.status] = (codes[r.status] ?? 0) + 1;
      }
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const m0 = await scrape(s.port);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const health = await get(s.port, '/healthz');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const m1 = await scrape(s.port);
      stop = true;
      await Promise.all(workers);

      const done = sample(m1, 'app_requests_total{code="200"}') - sample(m0, 'app_requests_total{code="200"}');
      const cpu = sample(m1, 'process_cpu_seconds_total') - sample(m0, 'process_cpu_seconds_total');
      const wall = (m1.at - m0.at) / 1000;
      const rps = done / wall;
      const perCpu = done / cpu;
      const util = sample(m1, 'app_utilization');
      t.diagnostic(
        `capacity ${capacity}: ${done} requests in ${wall.toFixed(3)} s = ${rps.toFixed(1)} req/s (${((100 * rps) / capacity).toFixed(1)} %), ` +
          `${cpu.toFixed(3)} CPU s = ${perCpu.toFixed(1)} req per CPU s, app_utilization ${util.toFixed(3)}, ` +
          `healthz ${health.ms.toFixed(1)} ms`,
      );
      assert.deepEqual(Object.keys(codes), ['200'], `statuses ${JSON.stringify(codes)}`);
      assert.equal(health.status, 200);
      assert.ok(health.ms < 250, `/healthz took ${health.ms.toFixed(1)} ms under load`);
      assert.ok(Math.abs(perCpu / capacity - 1) <= 0.1, `${perCpu.toFixed(1)} requests per CPU second, want ${capacity} ± 10 %`);
      assert.ok(
        Math.abs(rps / capacity - 1) <= 0.2,
        `${rps.toFixed(1)} req/s, want ${capacity} ± 20 % (server got ${(cpu / wall).toFixed(2)} CPU s per s)`,
      );
      assert.ok(Math.abs(util - rps / capacity) <= 0.15, `app_utilization ${util}, want about ${(rps / capacity).toFixed(2)}`);
    } finally {
      stop = true;
    }
  });
}

test('SIGTERM stops listening, serves what is queued, exits 0', BOUNDED, async (t) => {
  const s = await start(t, ['--capacity', '10']);
  const outcomes = burst(s.port, 4, '/work');
  // Wait until the server has read the requests (a scrape is answered
  // between two requests, so this polls at most a few times).
  for (let i = 0; ; i++) {
    const m = await scrape(s.port);
    if (sample(m, 'app_active_requests') >= 3) break;
    assert.ok(i < 10, 'requests never queued');
  }
  s.proc.kill('SIGTERM');
  await s.waitStderr(/SIGTERM: stopped listening/);
  await assert.rejects(get(s.port, '/healthz'), { code: 'ECONNREFUSED' });
  const rs = await outcomes;
  assert.deepEqual(
    rs.map((r) => r.status),
    [200, 200, 200, 200],
  );
  assert.deepEqual(await s.exited, { code: 0, signal: null });
});

// --cpu-share F < 1: service time in wall-clock terms, F of it burnt.

test('parseConfig --cpu-share', async (t) => {
  const ok = [
    [[], { cpuShare: 1, cpuShareSet: false }],
    [['--cpu-share', '1'], { cpuShare: 1, cpuShareSet: true }],
    [['--cpu-share=0.1'], { cpuShare: 0.1, cpuShareSet: true }],
  ];
  for (const [argv, want] of ok) {
    await t.test(argv.join(' ') || 'default', () => {
      const got = parseConfig(argv, {});
      for (const [k, v] of Object.entries(want)) assert.equal(got[k], v, k);
    });
  }
  for (const v of ['0', '1.5', 'x', '', '-0.1']) {
    await t.test(`--cpu-share ${JSON.stringify(v)}`, () =>
      assert.throws(() => parseConfig([`--cpu-share=${v}`], {}), { message: `--cpu-share ${JSON.stringify(v)}: want a fraction, 0 < F <= 1` }),
    );
  }
});

test('bad --cpu-share exits 2 with the flag named', BOUNDED, async () => {
  await Promise.all(
    ['0', '1.5', 'x'].map(async (v) => {
      const proc = spawn(process.execPath, [SERVER, '--port', '0', '--cpu-share', v], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      proc.stderr.on('data', (s) => (stderr += s));
      const code = await new Promise((resolve) => proc.on('exit', resolve));
      assert.equal(code, 2, `--cpu-share ${v}: exit ${code}`);
      assert.match(stderr, new RegExp(`^server\\.js: --cpu-share "${v.replace('.', '\\.')}": want a fraction, 0 < F <= 1\nusage:`));
    }),
  );
});

// Saturate as above for 2 s. Requests per wall second must be the capacity
// (they hold the server for 25 ms of wall time each), the server is busy
// all the time, and the process uses about F of a core.
test('--capacity 40 --cpu-share 0.1: 40 req/s ± 15 %, busy, about 0.1 core', BOUNDED, async (t) => {
  const s = await start(t, ['--capacity', '40', '--cpu-share', '0.1']);
  assert.match(s.line, /capacity=40 cost_ms=25\.000 max_queue=200 cpu_share=0\.1$/);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  let stop = false;
  const codes = {};
  const workers = Array.from({ length: 8 }, async () => {
    while (!stop) {
      const r = await get(s.port, '/work', { agent });
      codes[r.status] = (codes[r.status] ?? 0) + 1;
    }
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const m0 = await scrape(s.port);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const health = await get(s.port, '/healthz');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const m1 = await scrape(s.port);
    stop = true;
    await Promise.all(workers);

    const done = sample(m1, 'app_requests_total{code="200"}') - sample(m0, 'app_requests_total{code="200"}');
    const cpu = sample(m1, 'process_cpu_seconds_total') - sample(m0, 'process_cpu_seconds_total');
    const wall = (m1.at - m0.at) / 1000;
    const rps = done / wall;
    const util = sample(m1, 'app_utilization');
    t.diagnostic(
      `capacity 40, cpu-share 0.1: ${done} requests in ${wall.toFixed(3)} s = ${rps.toFixed(1)} req/s (${((100 * rps) / 40).toFixed(1)} %), ` +
        `${cpu.toFixed(3)} CPU s = ${(cpu / wall).toFixed(3)} CPU s per s, app_utilization ${util.toFixed(3)}, healthz ${health.ms.toFixed(1)} ms`,
    );
    assert.deepEqual(Object.keys(codes), ['200'], `statuses ${JSON.stringify(codes)}`);
    assert.equal(health.status, 200);
    assert.ok(health.ms < 250, `/healthz took ${health.ms.toFixed(1)} ms under load`);
    assert.ok(Math.abs(rps / 40 - 1) <= 0.15, `${rps.toFixed(1)} req/s, want 40 ± 15 %`);
    assert.ok(util >= 0.9, `app_utilization ${util}, want about 1`);
    assert.ok(Math.abs(cpu / wall / 0.1 - 1) <= 0.5, `${(cpu / wall).toFixed(3)} CPU s per s, want 0.1 ± 50 %`);
  } finally {
    stop = true;
  }
});

test('--cpu-share: a client that leaves while its request waits frees the server at once (499)', BOUNDED, async (t) => {
  // 400 ms per request, of which 20 ms burn and 380 ms wait.
  const s = await start(t, ['--capacity', '2.5', '--cpu-share', '0.05']);
  let dropped;
  const rs = await burst(s.port, 3, '/work', (sockets) => {
    // The second request is in service now; 100 ms later it waits.
    setTimeout(() => {
      dropped = performance.now();
      for (const c of sockets) if (c.bytesRead === 0) c.destroy();
    }, 100);
  });
  assert.equal(rs.filter((r) => r.status === 200).length, 1, `outcomes ${JSON.stringify(rs)}`);
  let m = await scrape(s.port);
  for (let i = 0; sample(m, 'app_active_requests') > 0; i++) {
    assert.ok(i < 10, 'dropped requests still in flight');
    m = await scrape(s.port);
  }
  const ms = m.at - dropped;
  assert.ok(ms < 150, `dropped requests left the queue after ${ms.toFixed(1)} ms, want well before the wait ends (280 ms)`);
  assert.equal(sample(m, 'app_requests_total{code="200"}'), 1);
  assert.equal(sample(m, 'app_requests_total{code="499"}'), 2);
  assert.equal((await get(s.port, '/work')).status, 200);
});

test('--cpu-share: 503 on a full queue, SIGTERM drains what is queued', BOUNDED, async (t) => {
  const s = await start(t, ['--capacity', '20', '--cpu-share', '0.2', '--max-queue', '3']);
  const rs = await burst(s.port, 8, '/work');
  const ok = rs.filter((r) => r.status === 200).length;
  const full = rs.filter((r) => r.status === 503).length;
  assert.ok(ok + full === 8 && ok >= 3 && full >= 1, `statuses ${rs.map((r) => r.status ?? r.error)}`);
  const m = await scrape(s.port);
  assert.equal(sample(m, 'app_requests_total{code="503"}'), full);
  assert.equal(sample(m, 'app_requests_total{code="200"}'), ok);

  const outcomes = burst(s.port, 3, '/work');
  for (let i = 0; ; i++) {
    const m = await scrape(s.port);
    if (sample(m, 'app_active_requests') >= 3) break;
    assert.ok(i < 10, 'requests never queued');
  }
  s.proc.kill('SIGTERM');
  await s.waitStderr(/SIGTERM: stopped listening/);
  await assert.rejects(get(s.port, '/healthz'), { code: 'ECONNREFUSED' });
  assert.deepEqual(
    (await outcomes).map((r) => r.status),
    [200, 200, 200],
  );
  assert.deepEqual(await s.exited, { code: 0, signal: null });
});
