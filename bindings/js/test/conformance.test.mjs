// The conformance corpus through the npm package decides, explains and plans exactly as the
// native engine (the fixtures hold its JSON): byte for byte once written back as JSON.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rampart, RequestError, PlanError } from '../dist/index.js';
import { conformance, errorDecision, fixture } from './helpers.mjs';

/** The corpus must not shrink unnoticed (the native conformance test asks for 150). */
const MIN_REQUESTS = 150;

/** The native answer for a call that threw: the error JSON the module's door writes. */
function thrown(fn) {
  try {
    return { value: fn() };
  } catch (error) {
    return { error };
  }
}

test('every conformance request decides, explains and plans as natively', async () => {
  let requests = 0;
  let plans = 0;
  let objects = 0;
  const failures = [];
  for (const { name, bundle, entities, cases } of conformance()) {
    const engine = await Rampart.load(bundle, entities);
    for (const c of cases) {
      requests += 1;
      // The corpus states its time where it matters (the Rust runner fills none).
      const options = { fillTime: false };
      // As an object too, unless JavaScript numbers cannot hold the request's (an integer
      // beyond 2^53: such a request must be passed as text).
      const object = JSON.parse(c.request);
      const forms = JSON.stringify(object) === c.request ? [['text', c.request], ['object', object]] : [['text', c.request]];
      objects += forms.length - 1;
      for (const [form, request] of forms) {
        const got = thrown(() => engine.decide(request, options));
        const text = got.error instanceof RequestError ? errorDecision(got.error.message) : JSON.stringify(got.value);
        if (text !== c.decision) failures.push(`${name} / ${c.name} (decide, ${form}):\n  js:     ${text}\n  native: ${c.decision}`);
      }
      const explained = thrown(() => engine.explain(c.request, options));
      const explanation = explained.error instanceof RequestError ? errorDecision(explained.error.message) : JSON.stringify(explained.value);
      if (explanation !== c.explanation) failures.push(`${name} / ${c.name} (explain):\n  js:     ${explanation}\n  native: ${c.explanation}`);
      const planned = thrown(() => engine.plan(c.plan_request, options));
      const want = JSON.parse(c.plan);
      if (want.error === undefined) {
        plans += 1;
        if (JSON.stringify(planned.value) !== c.plan) failures.push(`${name} / ${c.name} (plan):\n  js:     ${JSON.stringify(planned.value) ?? planned.error}\n  native: ${c.plan}`);
      } else {
        const expected = want.kind === 'request' ? RequestError : PlanError;
        if (!(planned.error instanceof expected) || planned.error.message !== want.error) {
          failures.push(`${name} / ${c.name} (plan error):\n  js:     ${planned.error ?? JSON.stringify(planned.value)}\n  native: ${c.plan}`);
        }
      }
    }
    assert.equal(engine.info().memory.live_blocks, 0, `${name}: blocks leaked`);
    engine.close();
  }
  assert.deepEqual(failures, [], `${failures.length} differences`);
  assert.ok(requests >= MIN_REQUESTS, `only ${requests} requests in the corpus`);
  assert.ok(plans >= requests / 2, `only ${plans} of ${requests} requests planned`);
  assert.ok(objects >= requests * 0.95, `only ${objects} of ${requests} requests as objects`);
});

test('the payments example: typed decisions, obligations, explanations and plans', async () => {
  const { bundle, entities, cases } = fixture('payments');
  const engine = await Rampart.load(bundle, JSON.parse(entities));
  for (const c of cases) {
    let decision;
    try {
      decision = engine.decide(c.request, { fillTime: false });
    } catch (error) {
      // `no-route`: raw HTTP that no route maps cannot be read, as in Python.
      assert.ok(error instanceof RequestError, String(error));
      assert.equal(errorDecision(error.message), c.decision, c.name);
      continue;
    }
    assert.equal(JSON.stringify(decision), c.decision, c.name);
    assert.equal(decision.allowed, decision.decision === 'allow');
  }
  const read = {
    principal: { type: 'User', id: 'alice' },
    action: 'payments:read',
    resource: { type: 'Account', id: 'a1' },
    context: { auth: { method: 'jwt', subject: 'alice', scopes: ['payments:read'] }, tls: { version: '1.3', mtls: true } },
  };
  const decision = engine.decide(read);
  assert.equal(decision.allowed, true);
  assert.ok(decision.rules.includes('pay-read'), decision.rules.join());
  assert.ok(decision.obligations.some((o) => o.kind === 'mask'));
  assert.equal(engine.decide({ ...read, resource: { type: 'Account', id: 'a2' } }).allowed, false);

  const explanation = engine.explain(read);
  assert.equal(explanation.decision.allowed, true);
  assert.equal(explanation.principal, 'User::"alice"');
  assert.ok(explanation.rules.some((r) => r.id === 'pay-read' && r.outcome === 'applied'));

  const plan = engine.plan({ ...read, resource: { type: 'Account' } });
  assert.equal(plan.decision, 'conditional');
  assert.equal(plan.resourceType, 'Account');
  assert.ok(plan.text.startsWith('resource.owner == User::"alice"'), plan.text);
  assert.equal(plan.condition.op, 'and');
});

test('context.time comes from the host clock, or from `now`', async () => {
  const { bundle, entities } = fixture('07-time');
  const engine = await Rampart.load(bundle, entities);
  // `embargo` denies while now < 2026-06-01.
  const request = { principal: 'User::"alice"', action: 'embargo', resource: 'User::"alice"' };
  assert.equal(engine.decide(request, { now: new Date('2026-01-01T00:00:00Z') }).decision, 'deny');
  assert.equal(engine.decide(request, { now: Date.parse('2026-07-01T00:00:00Z') }).decision, 'allow');
  // Without a time, `now` is an evaluation error: the deny rule applies, the error listed.
  const unknown = engine.decide(request, { fillTime: false });
  assert.equal(unknown.decision, 'deny');
  assert.ok(unknown.errors.length > 0 && unknown.errors.every((e) => e.rule !== null));
  // By default the host's clock is `now`.
  const now = Date.now();
  assert.equal(engine.decide(request).decision, engine.decide(request, { now }).decision);
});
