// The status page in headless Chromium: screenshots at 1280 and 400 px
// wide, and a check in the live DOM that nothing overflows sideways, at
// those widths and at others either side of the page's breakpoints
// (tables above 1100 px, cards at and below).
//
// Usage: node .ci/status-page.mjs URL OUTDIR
//   URL     the status page, e.g. http://127.0.0.1:9153/
//   OUTDIR  where status-1280.png and status-400.png go (docs/)
// Environment:
//   CHROMIUM  the browser (default /usr/bin/chromium: Debian's; playwright
//             downloads none, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1)
//
// playwright-core comes from .ci/statuspage (npm ci there). The page's CSP
// blocks injected <script> tags; page.evaluate runs through the DevTools
// protocol, which the CSP does not govern.
//
// Exit status 0 when every width passes, 1 with the overflowing elements
// listed otherwise.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, 'statuspage', 'package.json'));
const { chromium } = require('playwright-core');

const [url, outdir] = process.argv.slice(2);
if (!url || !outdir) {
  console.error('usage: node .ci/status-page.mjs URL OUTDIR');
  process.exit(2);
}

// measure runs in the page: every horizontal overflow, as text.
function measure() {
  const out = [];
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (typeof el.className === 'string' && el.className) s += '.' + el.className.trim().split(/\s+/).join('.');
    const row = el.closest('[data-backend],[data-service]');
    if (row) s += ' in ' + (row.dataset.backend || row.dataset.service);
    return s;
  };
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth) {
    out.push(`document: scrollWidth ${doc.scrollWidth} > clientWidth ${doc.clientWidth}`);
  }
  for (const t of document.querySelectorAll('table')) {
    const box = t.parentElement;
    if (box.scrollWidth > box.clientWidth) {
      out.push(`table container ${name(box)}: scrollWidth ${box.scrollWidth} > clientWidth ${box.clientWidth}`);
    }
    if (t.scrollWidth > t.clientWidth) {
      out.push(`${name(t)}: scrollWidth ${t.scrollWidth} > clientWidth ${t.clientWidth}`);
    }
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue; // SVG shapes: in the svg's own coordinates
    const style = getComputedStyle(el);
    if (style.display === 'none') continue;
    const parent = el.parentElement;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const p = parent.getBoundingClientRect();
    if (r.right > p.right + 0.5) {
      out.push(`${name(el)}: right edge ${r.right.toFixed(1)} past its parent ${name(parent)}'s ${p.right.toFixed(1)}`);
    }
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'visible') {
      out.push(`${name(el)}: content scrolls sideways (${el.scrollWidth} > ${el.clientWidth})`);
    } else if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      out.push(`${name(el)}: content overflows (${el.scrollWidth} > ${el.clientWidth})`);
    }
  }
  const rows = document.querySelectorAll('[data-backend]').length;
  const services = document.querySelectorAll('tr[data-service]').length;
  const cards = getComputedStyle(document.querySelector('table.be thead') || document.body).display === 'none';
  return { overflows: out, rows, services, cards, width: doc.clientWidth };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
let failed = false;
try {
  const shots = [1280, 400];
  for (const width of [1920, 1400, 1280, 1101, 1100, 1024, 768, 400, 360]) {
    const page = await browser.newPage({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
    const blocked = [];
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) blocked.push(m.text()); });
    // The page refreshes itself every 5 s: measure right after a load, and
    // once more should a refresh come in between.
    let m;
    for (let attempt = 0; ; attempt++) {
      await page.goto(url, { waitUntil: 'load' });
      try {
        m = await page.evaluate(measure);
        if (shots.includes(width)) {
          await page.screenshot({ path: path.join(outdir, `status-${width}.png`), fullPage: true });
        }
        break;
      } catch (e) {
        if (attempt >= 2) throw e;
      }
    }
    const mode = m.cards ? 'cards' : 'tables';
    if (m.overflows.length > 0) {
      failed = true;
      console.error(`FAIL: ${width} px: ${m.overflows.length} overflow(s):\n  ` + m.overflows.slice(0, 40).join('\n  '));
    } else {
      console.log(`ok: ${width} px (${mode}): ${m.services} services, ${m.rows} backend rows, nothing overflows sideways`);
    }
    if (m.rows === 0 || m.services === 0) {
      failed = true;
      console.error(`FAIL: ${width} px: the page shows no services or no backends`);
    }
    if ((width <= 1100) !== m.cards) {
      failed = true;
      console.error(`FAIL: ${width} px: ${mode}, want ${width <= 1100 ? 'cards' : 'tables'}`);
    }
    if (blocked.length > 0) {
      failed = true;
      console.error(`FAIL: ${width} px: the CSP blocked something:\n  ` + blocked.join('\n  '));
    }
    await page.close();
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
