'use strict';

// The gslb agent of a backend instance: it registers the instance into a
// gslb service with a lease, renews the lease and reports the instance's
// load (requests served per second over its capacity) every third of the
// lease, and on scale-in drains it, waits until the last DNS answer that
// named it has expired from caches, and deregisters it. See README.md and
// gslb's docs/registration.md.

const http = require('node:http');
const https = require('node:https');

class Agent {
  // opts: url (gslb's HTTP side), service, name, address (the IP gslb
  // answers), token, lease (seconds), capacity (requests/s at full load),
  // served () => requests served so far, log (line) => void.
  constructor(opts) {
    this.o = opts;
    this.timer = null;
    this.last = null; // {at, served} of the last report
  }

  path(suffix = '') {
    return `/api/v1/backends/${encodeURIComponent(this.o.service)}/${encodeURIComponent(this.o.name)}${suffix}`;
  }

  // call sends one request to gslb and resolves with {status, body}.
  call(method, suffix, body) {
    const u = new URL(this.path(suffix), this.o.url);
    const lib = u.protocol === 'https:' ? https : http;
    const data = body === undefined ? '' : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = lib.request(u, {
        method,
        timeout: 5000,
        headers: { Authorization: `Bearer ${this.o.token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => resolve({ status: res.statusCode, body: text }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(data);
    });
  }

  async register() {
    const r = await this.call('PUT', '', { address: this.o.address, lease_ttl: `${this.o.lease}s` });
    if (r.status !== 200 && r.status !== 201) throw new Error(`register: HTTP ${r.status} ${r.body.trim()}`);
    return JSON.parse(r.body);
  }

  async report() {
    const now = Date.now();
    const served = this.o.served();
    if (this.last) {
      const rate = ((served - this.last.served) * 1000) / Math.max(now - this.last.at, 1);
      const r = await this.call('POST', '/report', { request_rate: rate, capacity: this.o.capacity, ttl: `${this.o.lease}s` });
      if (r.status !== 200 && r.status !== 201) throw new Error(`report: HTTP ${r.status} ${r.body.trim()}`);
    }
    this.last = { at: now, served };
  }

  // start registers, renews at once (a backend is answered from its
  // first renewal or its first probe), then every third of the lease.
  async start() {
    const reg = await this.register();
    this.o.log(`registered ${reg.id} (${reg.address}), lease ${this.o.lease}s`);
    await this.register();
    await this.report();
    const tick = async () => {
      try {
        await this.register();
        await this.report();
      } catch (err) {
        this.o.log(`renewal failed: ${err.message}`);
      }
    };
    this.timer = setInterval(tick, (this.o.lease * 1000) / 3);
  }

  // drain takes the instance out of new answers, waits until caches
  // expire, and deregisters it; it resolves when the instance may exit.
  async drain() {
    clearInterval(this.timer);
    const r = await this.call('POST', '/drain');
    if (r.status !== 200) throw new Error(`drain: HTTP ${r.status} ${r.body.trim()}`);
    const { caches_expire: until } = JSON.parse(r.body);
    const wait = Math.max(new Date(until).getTime() - Date.now(), 0);
    this.o.log(`draining: the last cached answer expires at ${until}, in ${(wait / 1000).toFixed(1)}s`);
    await new Promise((resolve) => setTimeout(resolve, wait));
    const d = await this.call('DELETE', '');
    if (d.status !== 204 && d.status !== 404) throw new Error(`deregister: HTTP ${d.status} ${d.body.trim()}`);
    this.o.log('deregistered');
  }
}

module.exports = { Agent };
