// Memory is freed deterministically: every call frees its input and result blocks, so the
// module's live blocks do not grow over many decisions (whatever the garbage collector does).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rampart, RequestError } from '../dist/index.js';
import { fixture } from './helpers.mjs';

test('10,000 decisions, explanations and plans leave no block behind', async () => {
  const { bundle, entities, cases } = fixture('payments');
  const rampart = await Rampart.load(bundle, entities);
  const before = rampart.info();
  assert.equal(before.memory.live_blocks, 0);
  // The readable requests (a no-route one raises RequestError, below).
  const requests = cases.filter((c) => !c.decision.includes('"rule":null')).map((c) => JSON.parse(c.request));
  assert.ok(requests.length >= 5);
  let allowed = 0;
  for (let i = 0; i < 10_000; i++) {
    const request = requests[i % requests.length];
    allowed += Number(rampart.decide(request).allowed);
    if (i % 10 === 0) rampart.explain(request);
    if (i % 10 === 5) {
      try {
        rampart.plan(cases[i % cases.length].plan_request);
      } catch {
        // Unplannable or unreadable plan requests are errors; they free their blocks too.
      }
    }
    if (i % 100 === 0) assert.throws(() => rampart.decide('{'), RequestError);
    if (i % 100 === 50) assert.throws(() => rampart.decide({ http: { method: 'GET', path: '/nowhere' } }), RequestError);
  }
  assert.ok(allowed > 0 && allowed < 10_000, `${allowed} allowed`);
  const after = rampart.info();
  assert.equal(after.memory.live_blocks, 0);
  assert.equal(after.memory.live_bytes, 0);
});
