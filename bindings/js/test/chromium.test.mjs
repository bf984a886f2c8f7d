// The package in a real browser: headless Chromium loads dist/index.js as an ES module
// from a loopback HTTP server, fetches rampart.wasm the way any page would (the package's
// default, next to dist/), loads a bundle and decides corpus requests; the page POSTs what
// it got back to the server, and the decisions must be the native engine's, byte for byte.
//
// Skipped, with a message, when no Chromium is installed and RAMPART_REQUIRE_CHROMIUM is
// unset (scripts/ci.sh sets it, and installs Chromium). CHROMIUM=/path/to/chrome picks the
// binary.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { test } from 'node:test';

import { FIXTURES, PACKAGE } from './helpers.mjs';

/** The folders whose requests the page decides. */
const FOLDERS = ['payments', '01-combining', '07-time', '15-routes', '19-request-errors'];

function findChromium() {
  const candidates = process.env.CHROMIUM ? [process.env.CHROMIUM] : ['chromium', 'chromium-browser', 'google-chrome'];
  for (const command of candidates) {
    const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return { command, version: probe.stdout.trim() };
  }
  return null;
}

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm', '.html': 'text/html' };

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>rampart-policy in the browser</title>
<script type="module">
  const post = (body) => fetch('/result', { method: 'POST', body: JSON.stringify(body) });
  try {
    const { Rampart, RequestError } = await import('/dist/index.js');
    const results = {};
    for (const name of ${JSON.stringify(FOLDERS)}) {
      const bundle = await (await fetch('/fixtures/' + name + '/bundle.json')).text();
      const entities = await fetch('/fixtures/' + name + '/entities.json');
      const cases = await (await fetch('/fixtures/' + name + '/cases.json')).json();
      // The default module (rampart.wasm next to dist/) for the first folder, the bytes
      // given explicitly for the others.
      const options = name === 'payments' ? {} : { wasm: new URL('/rampart.wasm', location.href) };
      const engine = await Rampart.load(bundle, entities.ok ? await entities.text() : undefined, options);
      results[name] = cases.map((c) => {
        try {
          return JSON.stringify(engine.decide(JSON.parse(c.request), { fillTime: false }));
        } catch (error) {
          return (error instanceof RequestError ? 'RequestError: ' : 'other: ') + error.message;
        }
      });
      results[name + ':live_blocks'] = engine.info().memory.live_blocks;
      engine.close();
    }
    await post({ ok: true, userAgent: navigator.userAgent, results });
  } catch (error) {
    await post({ ok: false, error: String(error && error.stack || error) });
  }
</script>
`;

test('headless Chromium decides corpus requests through the package as natively', async (t) => {
  const chromium = findChromium();
  if (!chromium) {
    if (process.env.RAMPART_REQUIRE_CHROMIUM) assert.fail('RAMPART_REQUIRE_CHROMIUM is set but no Chromium was found');
    t.skip('no Chromium installed (apt-get install chromium; RAMPART_REQUIRE_CHROMIUM=1 makes this an error)');
    return;
  }
  let resolveResult;
  const result = new Promise((resolve) => {
    resolveResult = resolve;
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/result') {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        res.end('ok');
        resolveResult(JSON.parse(body));
      });
      return;
    }
    if (url.pathname === '/' || url.pathname === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(PAGE);
      return;
    }
    // The package folder, and the fixtures under /fixtures/; nothing outside them.
    const [root, rest] = url.pathname.startsWith('/fixtures/') ? [FIXTURES, url.pathname.slice('/fixtures'.length)] : [PACKAGE, url.pathname];
    const path = normalize(join(root, decodeURIComponent(rest)));
    if (!path.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(path);
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const profile = mkdtempSync(join(tmpdir(), 'rampart-chromium-'));
  const browser = spawn(
    chromium.command,
    ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, `http://127.0.0.1:${port}/`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  browser.stderr.on('data', (chunk) => (stderr += chunk));
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`no result from Chromium in 90 s:\n${stderr.slice(-2000)}`)), 90_000).unref());
  try {
    const got = await Promise.race([result, timeout]);
    assert.ok(got.ok, got.error);
    t.diagnostic(`${chromium.version}: ${got.userAgent}`);
    let decided = 0;
    for (const name of FOLDERS) {
      const cases = JSON.parse(readFileSync(join(FIXTURES, name, 'cases.json'), 'utf8'));
      assert.equal(got.results[name].length, cases.length, name);
      cases.forEach((c, i) => {
        const want = JSON.parse(c.decision);
        const unreadable = want.rules.length === 0 && want.errors.length === 1 && want.errors[0].rule === null;
        const expected = unreadable ? `RequestError: ${want.errors[0].message}` : c.decision;
        assert.equal(got.results[name][i], expected, `${name} / ${c.name}`);
        decided += 1;
      });
      assert.equal(got.results[`${name}:live_blocks`], 0, name);
    }
    assert.ok(decided >= 30, `only ${decided} decisions`);
  } finally {
    const exited = new Promise((resolve) => browser.once('exit', resolve));
    if (browser.exitCode === null) browser.kill('SIGKILL');
    await exited;
    server.close();
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
});
