'use strict';
// A small autoscaler for gslb's scaling webhooks (docs/registration.md):
// it checks each event's signature, acts once per event id, and starts or
// stops local instances of server.js, each on its own loopback address,
// which register themselves with gslb (--gslb) and drain on SIGTERM.
// usage: node autoscaler.js PORT SECRET_FILE -- SERVER_ARGS...
//   SERVER_ARGS are server.js's, without --host; {ip} and {name} in them
//   are replaced per instance. Instances get 127.0.0.11, .12, ...
const crypto = require('node:crypto');
const http = require('node:http');
const fs = require('node:fs');
const { spawn } = require('node:child_process');

const [port, secretFile, sep, ...serverArgs] = process.argv.slice(2);
if (!port || !secretFile || sep !== '--') {
  process.stderr.write('usage: node autoscaler.js PORT SECRET_FILE -- SERVER_ARGS...\n');
  process.exit(2);
}
const secret = fs.readFileSync(secretFile, 'utf8').trim();
const seen = new Set();
const running = []; // {ip, child}, oldest first
let next = 11;
const log = (line) => process.stdout.write(`autoscaler: ${new Date().toISOString()} ${line}\n`);

function start() {
  const ip = `127.0.0.${next++}`;
  const args = serverArgs.map((a) => a.replaceAll('{ip}', ip).replaceAll('{name}', `web-${ip.split('.')[3]}`));
  const child = spawn(process.execPath, [`${__dirname}/server.js`, '--host', ip, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  child.on('exit', (code) => log(`instance ${ip} exited ${code}`));
  running.push({ ip, child });
  log(`started ${ip}`);
}

http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const want = 'sha256=' + crypto.createHmac('sha256', secret).update(body).digest('hex');
    const got = String(req.headers['x-gslb-signature'] || '');
    if (got.length !== want.length || !crypto.timingSafeEqual(Buffer.from(got), Buffer.from(want))) {
      res.writeHead(401).end();
      return;
    }
    const ev = JSON.parse(body);
    if (!seen.has(ev.id)) {
      seen.add(ev.id);
      log(`${ev.type} ${ev.service}/${ev.pool} ${ev.from} -> ${ev.to} (utilization ${ev.utilization})`);
      if (ev.type === 'scale_out') for (let i = ev.from; i < ev.to; i++) start();
      if (ev.type === 'scale_in') for (let i = ev.to; i < ev.from && running.length > 0; i++) running.pop().child.kill('SIGTERM');
    }
    res.writeHead(204).end();
  });
}).listen(Number(port), '127.0.0.1', () => log(`listening 127.0.0.1:${port}`));
process.on('SIGTERM', () => { for (const r of running) r.child.kill('SIGTERM'); setTimeout(() => process.exit(0), 100); });
