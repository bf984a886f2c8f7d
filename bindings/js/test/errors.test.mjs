// Bad input through the package raises its typed errors, and the process goes on deciding.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EntityError, PlanError, PolicyError, RampartError, Rampart, RequestError, VERSION } from '../dist/index.js';
import { fixture } from './helpers.mjs';

const payments = fixture('payments');
const good = {
  principal: { type: 'User', id: 'alice' },
  action: 'payments:read',
  resource: { type: 'Account', id: 'a1' },
  context: { auth: { method: 'jwt', subject: 'alice', scopes: ['payments:read'] }, tls: { version: '1.3', mtls: true } },
};

async function engine() {
  return Rampart.load(payments.bundle, payments.entities);
}

test('the error classes form one hierarchy', () => {
  for (const Class of [PolicyError, RequestError, EntityError, PlanError]) {
    const error = new Class('x');
    assert.ok(error instanceof RampartError && error instanceof Error);
    assert.equal(error.name, Class.name);
  }
});

test('bad requests raise RequestError, and the engine keeps deciding', async () => {
  const rampart = await engine();
  const huge = JSON.stringify({ ...good, context: { pad: 'a'.repeat(2 << 20) } });
  const cyclic = {};
  cyclic.self = cyclic;
  const bad = [
    [undefined, /expected an object or JSON text, not undefined/],
    [null, /not null/],
    [42, /not number/],
    [true, /not boolean/],
    [[good], /not an array/],
    [() => good, /not function/],
    [Symbol('x'), /not symbol/],
    [{ n: 10n }, /cannot be written as JSON/],
    [cyclic, /cannot be written as JSON/],
    ['', /request is not valid JSON/],
    ['{"principal": ', /request is not valid JSON/],
    ['{"a": 1, "a": 2}', /duplicate|repeated/i],
    ['\u0000', /not valid JSON/],
    [{ principal: 7, action: 'payments:read' }, /principal/],
    [{ ...good, action: 'no:such:action' }, /action/],
    [huge, /request is too large: \d+ bytes, the limit is 1048576 bytes/],
    ['a'.repeat(2 << 20), /too large/],
  ];
  for (const [request, message] of bad) {
    // A plan reads the resource type first: its message for a bad request may differ.
    for (const call of ['decide', 'explain', 'plan']) {
      assert.throws(() => rampart[call](request), (error) => {
        assert.ok(error instanceof RequestError, `${call}(${String(request).slice(0, 30)}): ${error}`);
        if (call !== 'plan') assert.match(error.message, message, call);
        return true;
      });
    }
  }
  // Bad options are request errors too.
  assert.throws(() => rampart.decide(good, { now: Number.NaN }), RequestError);
  assert.throws(() => rampart.decide(good, { now: new Date('not a date') }), RequestError);
  assert.equal(rampart.decide(good).allowed, true);
  assert.equal(rampart.info().memory.live_blocks, 0);
});

test('a plan no residual can express raises PlanError naming the rule', async () => {
  const failClosed = fixture('02-fail-closed');
  const rampart = await Rampart.load(failClosed.bundle, failClosed.entities);
  const plans = failClosed.cases.filter((c) => JSON.parse(c.plan).kind === 'unsupported');
  assert.ok(plans.length > 0);
  for (const c of plans) {
    const want = JSON.parse(c.plan);
    assert.throws(() => rampart.plan(c.plan_request, { fillTime: false }), (error) => {
      assert.ok(error instanceof PlanError, String(error));
      assert.equal(error.message, want.error);
      assert.equal(error.rule, want.rule);
      return true;
    });
  }
  // A plan request whose resource names no type is unreadable.
  const payments = await engine();
  assert.throws(() => payments.plan({ ...good, resource: 'nonsense' }), RequestError);
});

test('bad bundles raise PolicyError', async () => {
  const bad = [
    [undefined, /expected an object or JSON text/],
    [42, /expected an object or JSON text/],
    ['', /./],
    ['not json', /./],
    ['{"format": "something else"}', /./],
    [JSON.stringify({ ...JSON.parse(payments.bundle), version: 999 }), /version/],
    [new Uint8Array([0xff, 0xfe, 0x00]), /not UTF-8/],
    ['{"x": "' + 'a'.repeat(2 << 20) + '"}', /./],
  ];
  for (const [bundle, message] of bad) {
    await assert.rejects(Rampart.load(bundle), (error) => {
      assert.ok(error instanceof PolicyError, `${String(bundle).slice(0, 30)}: ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
  // Bytes of a good bundle load.
  const rampart = await Rampart.load(new TextEncoder().encode(payments.bundle), payments.entities);
  assert.equal(rampart.decide(good).allowed, true);
  // A module that is not the engine.
  await assert.rejects(Rampart.load(payments.bundle, undefined, { wasm: new Uint8Array([0, 97, 115, 109]) }), PolicyError);
  await assert.rejects(Rampart.load(payments.bundle, undefined, { wasm: 42 }), PolicyError);
});

test('bad entities raise EntityError and keep the current data', async () => {
  const bad = [
    [42, /list of entities/],
    [{ uid: 'x' }, /list of entities/],
    ['not json', /./],
    ['[{"uid": {"type": "NoSuchType", "id": "x"}, "attrs": {}, "parents": []}]', /NoSuchType/],
    ['{}', /./],
    ['[' + '"a",'.repeat(1 << 19) + '"a"]', /./],
  ];
  for (const [entities, message] of bad) {
    await assert.rejects(Rampart.load(payments.bundle, entities), (error) => {
      assert.ok(error instanceof EntityError, `${String(entities).slice(0, 30)}: ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
  const rampart = await engine();
  const count = rampart.info().entities;
  assert.throws(() => rampart.loadEntities('[{"uid": 1}]'), EntityError);
  assert.equal(rampart.info().entities, count);
  assert.equal(rampart.decide(good).allowed, true);
  // Replacing the data: without alice's account, she cannot read it.
  assert.equal(rampart.loadEntities([]), 0);
  assert.equal(rampart.decide(good).allowed, false);
  assert.equal(rampart.loadEntities(JSON.parse(payments.entities)), count);
  assert.equal(rampart.decide(good).allowed, true);
});

test('a closed engine raises RampartError, as in Python', async () => {
  const rampart = await engine();
  rampart.close();
  assert.equal(rampart.closed, true);
  for (const call of [() => rampart.decide(good), () => rampart.explain(good), () => rampart.plan(good), () => rampart.loadEntities([]), () => rampart.info()]) {
    assert.throws(call, (error) => error instanceof RampartError && error.message === 'the policy is closed');
  }
  rampart.close();
  if (typeof Symbol.dispose === 'symbol') {
    const other = await engine();
    other[Symbol.dispose]();
    assert.equal(other.closed, true);
  }
});

test('the engine module can be given as bytes, a compiled module or a URL', async () => {
  const { readFileSync } = await import('node:fs');
  const { pathToFileURL } = await import('node:url');
  const path = new URL('../rampart.wasm', import.meta.url);
  const bytes = readFileSync(path);
  const sources = [bytes, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), await WebAssembly.compile(bytes), path, pathToFileURL(path.pathname).href];
  for (const wasm of sources) {
    const rampart = await Rampart.load(payments.bundle, payments.entities, { wasm });
    assert.equal(rampart.decide(good).allowed, true);
    assert.equal(rampart.info().abi_version, 1);
  }
  await assert.rejects(Rampart.load(payments.bundle, undefined, { wasm: new URL('file:///no/such/rampart.wasm') }), PolicyError);
});

test('the package, its VERSION and the engine module carry the workspace version', async () => {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const cargo = readFileSync(new URL('../../../Cargo.toml', import.meta.url), 'utf8');
  const workspace = cargo.match(/\[workspace\.package\][^[]*?\nversion = "([^"]+)"/)?.[1];
  assert.equal(pkg.version, workspace);
  assert.equal(VERSION, workspace);
  assert.equal((await engine()).info().engine_version, workspace);
  assert.equal(pkg.license, 'Apache-2.0');
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
});
