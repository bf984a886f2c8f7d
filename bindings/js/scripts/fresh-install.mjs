#!/usr/bin/env node
// The packed package works where users put it: `npm pack`, then `npm install` of the tarball
// into a fresh folder (with express from the registry), then the Express example of
// docs/embedding.md, unchanged, against real HTTP requests: an allow answers 200, a deny 403.
// First, the example in the docs must be the text of examples/embed-node/app.mjs.
//
//   node scripts/fresh-install.mjs        (after `npm run build` and scripts/fixtures.sh)
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = resolve(PACKAGE, '../..');
const FIXTURES = process.env.RAMPART_JS_FIXTURES ?? join(PACKAGE, 'test/fixtures');
const EXAMPLE = join(ROOT, 'examples/embed-node/app.mjs');
/** The Express major version the example is written for. */
const EXPRESS = 'express@5';

function docsExample() {
  const docs = readFileSync(join(ROOT, 'docs/embedding.md'), 'utf8');
  const start = docs.indexOf('```js\n// examples/embed-node/app.mjs');
  assert.ok(start >= 0, 'docs/embedding.md shows no block starting with `// examples/embed-node/app.mjs`');
  const body = docs.slice(start + '```js\n'.length);
  return body.slice(0, body.indexOf('```\n'));
}

const example = readFileSync(EXAMPLE, 'utf8');
assert.equal(docsExample(), example, 'the example in docs/embedding.md differs from examples/embed-node/app.mjs');
console.log('docs/embedding.md shows examples/embed-node/app.mjs as it is');

const work = mkdtempSync(join(tmpdir(), 'rampart-npm-'));
let server;
try {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: PACKAGE, encoding: 'utf8' }));
  const tarball = join(work, packed[0].filename);
  const files = packed[0].files.map((f) => f.path).sort();
  console.log(`packed ${packed[0].filename}: ${files.join(', ')} (${packed[0].size} bytes)`);
  assert.deepEqual(files, ['CHANGELOG.md', 'LICENSE', 'README.md', 'dist/index.d.ts', 'dist/index.js', 'package.json', 'rampart.wasm']);

  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball, EXPRESS], { cwd: app, stdio: 'inherit' });
  copyFileSync(EXAMPLE, join(app, 'app.mjs'));
  copyFileSync(join(FIXTURES, 'payments/bundle.json'), join(app, 'bundle.json'));
  copyFileSync(join(ROOT, 'examples/payments/entities.json'), join(app, 'entities.json'));

  server = spawn(process.execPath, ['app.mjs'], { cwd: app, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]);
    });
    server.on('exit', (code) => reject(new Error(`the example exited with ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`the example did not start: ${out}`)), 30_000).unref();
  });
  const get = async (path, token, method = 'GET') => {
    const response = await fetch(base + path, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: response.status, body: await response.json() };
  };
  const cases = [
    ['GET', '/v1/accounts/a1', 'token-alice', 200], // alice owns a1
    ['GET', '/v1/accounts/a2', 'token-alice', 403], // bob's account
    ['GET', '/v1/accounts/a2', 'token-carol', 200], // carol is in finance
    ['GET', '/v1/accounts/a1', undefined, 403], // no token
    ['POST', '/v1/accounts/a1/payments', 'token-carol', 403], // a write needs mTLS
    ['GET', '/v1/nowhere', 'token-alice', 403], // no route: fail closed
  ];
  for (const [method, path, token, status] of cases) {
    const got = await get(path, token, method);
    assert.equal(got.status, status, `${method} ${path} (${token}): ${JSON.stringify(got.body)}`);
    console.log(`${method} ${path} ${token ?? '(no token)'} -> ${got.status} ${JSON.stringify(got.body)}`);
  }
  console.log('the packed package runs the docs example: allow 200, deny 403');
} finally {
  server?.kill();
  rmSync(work, { recursive: true, force: true });
}
