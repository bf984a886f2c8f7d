// Plans and explanations through the package are the CLI's: `rampart plan` and `rampart eval
// --explain` on examples/payments print the same JSON the package answers.
//
// Needs the `rampart` binary: RAMPART_BIN, or target/debug/rampart (under CARGO_TARGET_DIR
// when set), which scripts/ci.sh's test step builds. Skipped with a message without one,
// unless RAMPART_REQUIRE_CLI is set (scripts/ci.sh sets it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { Rampart } from '../dist/index.js';
import { ROOT, fixture } from './helpers.mjs';

function rampartBinary() {
  const candidates = [process.env.RAMPART_BIN, join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug/rampart')];
  return candidates.find((path) => path && existsSync(path));
}

function cli(args) {
  const run = spawnSync(rampartBinary(), args, { cwd: ROOT, encoding: 'utf8' });
  assert.ok(run.status === 0 || run.status === 1, `rampart ${args.join(' ')}: ${run.stderr}`);
  return run.stdout.trim() === '' ? { stderr: run.stderr } : JSON.parse(run.stdout);
}

test('plans and explanations equal the CLI\'s', async (t) => {
  if (!rampartBinary()) {
    if (process.env.RAMPART_REQUIRE_CLI) assert.fail('RAMPART_REQUIRE_CLI is set but no rampart binary was found');
    t.skip('no rampart binary (set RAMPART_BIN, or build it: cargo build -p rampart-cli)');
    return;
  }
  const { bundle, entities } = fixture('payments');
  const rampart = await Rampart.load(bundle, entities);
  const dir = join(ROOT, 'examples/payments');
  let compared = 0;
  for (const file of readdirSync(join(dir, 'plans')).filter((f) => f.endsWith('.json')).sort()) {
    const path = join('examples/payments/plans', file);
    const want = cli(['plan', 'examples/payments', '--request', path]);
    const text = readFileSync(join(ROOT, path), 'utf8');
    if (want.stderr !== undefined) {
      // No plan: the CLI prints `error: MESSAGE`, the package throws it.
      assert.throws(() => rampart.plan(text), (error) => want.stderr.includes(error.message));
    } else {
      assert.deepEqual(rampart.plan(text).toJSON(), want, file);
    }
    compared += 1;
  }
  for (const file of readdirSync(join(dir, 'requests')).filter((f) => f.endsWith('.json')).sort()) {
    const path = join('examples/payments/requests', file);
    const want = cli(['eval', 'examples/payments', '--request', path, '--explain']);
    const text = readFileSync(join(ROOT, path), 'utf8');
    if (want.explain === undefined) {
      // An unreadable request: the CLI prints the error decision, the package throws.
      assert.throws(() => rampart.explain(text), { message: want.errors[0].message });
    } else {
      assert.deepEqual(rampart.explain(text).toJSON(), want, file);
    }
    compared += 1;
  }
  assert.ok(compared >= 8, `only ${compared} files compared`);
});
