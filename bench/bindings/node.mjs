#!/usr/bin/env node
// The npm package `rampart-policy` against `@cedar-policy/cedar-wasm`, per decision, on the
// same requests of a bench workload, in one Node process (docs/performance.md, "Language
// bindings: Node"). A benchmark, never a test: it fails only when the two engines disagree.
//
//   node bench/bindings/node.mjs DIR [--rounds 21] [--seconds 0.5] [--warmup 2] [--json OUT]
//
// DIR is what `rampart-bench emit small DIR --requests N` writes (`policies.cedar`,
// `entities.json`, and the same requests line for line in `rampart-requests.jsonl` and
// `cedar-requests.jsonl`), plus `DIR/bundle.json`, the Rampart bundle of `DIR/rampart`
// (`rampart build DIR/rampart -o DIR/bundle.json`). scripts/bench-node.sh makes all of it.
// cedar-wasm comes from bench/bindings/node/ (`npm ci` there); rampart-policy from
// bindings/js (built: `npm run build`).
//
// Before anything is timed, every request is decided by every timed call: the decisions and
// the deciding rule ids (Rampart's `rules`; Cedar's reasons, the policies being keyed by
// their `@id`) must agree, and neither engine may report an error.
//
// Each row is timed in ROUNDS rounds, round-robin over the requests, after a warm-up of
// WARMUP seconds (at least one pass over the requests); a round is as many calls as the
// warm-up says take SECONDS. A row's figure is the median round's wall time
// (`process.hrtime.bigint`) and CPU time of the process (`process.cpuUsage`, user + system,
// so garbage collection on helper threads counts) divided by the decisions.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const { Rampart } = await import(join(ROOT, 'bindings/js/dist/index.js'));
const require = createRequire(join(HERE, 'node/package.json'));
const cedarEntry = require.resolve('@cedar-policy/cedar-wasm/nodejs');
const cedar = await import(cedarEntry);
const CEDAR_WASM_VERSION = JSON.parse(readFileSync(join(dirname(cedarEntry), '../package.json'), 'utf8')).version;

const ROWS = {
  'rampart-object': 'rampart-policy `decide(object)`: the request object written as JSON into the module, read against the schema, decided, the `Decision` built (rules, obligations, errors); `context.time` filled from the clock',
  'rampart-text': 'rampart-policy `decide(text)`: the request as JSON text, otherwise the same',
  'cedar-stateful': 'cedar-wasm `statefulIsAuthorized`: the policy set pre-parsed once (`preparsePolicySet`); in the call the request and the entity array cross into wasm and are read (cedar-wasm has no pre-parsed entities), Cedar decides, the answer object comes back',
  'cedar-text': 'cedar-wasm `isAuthorized` with the policy text: as above, but the policies are parsed in every call (the basic form of its README)',
};

function parseArgs(argv) {
  const options = { rounds: 21, seconds: 0.5, warmup: 2, json: null, dir: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--rounds') options.rounds = Number(argv[++i]);
    else if (arg === '--seconds') options.seconds = Number(argv[++i]);
    else if (arg === '--warmup') options.warmup = Number(argv[++i]);
    else if (arg === '--json') options.json = argv[++i];
    else if (!arg.startsWith('--') && options.dir === null) options.dir = arg;
    else throw new Error(`unknown argument \`${arg}\``);
  }
  if (!options.dir || !(options.rounds > 0) || !(options.seconds > 0) || !(options.warmup >= 0)) {
    console.error('usage: node bench/bindings/node.mjs DIR [--rounds 21] [--seconds 0.5] [--warmup 2] [--json OUT]');
    process.exit(2);
  }
  return options;
}

const lines = (path) => readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));

/** The Cedar policy set keyed by each policy's `@id`, so that Cedar's reasons are rule ids. */
function cedarPolicies(text) {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type !== 'success') throw new Error(`policies.cedar: ${JSON.stringify(parts.errors)}`);
  const byId = {};
  for (const policy of parts.policies) {
    const id = policy.match(/@id\("([^"]*)"\)/)?.[1];
    if (id === undefined || byId[id] !== undefined) throw new Error(`a policy without a unique @id: ${policy}`);
    byId[id] = policy;
  }
  return byId;
}

function cedarAnswer(answer) {
  if (answer.type !== 'success') throw new Error(`cedar-wasm failed: ${JSON.stringify(answer.errors)}`);
  const { decision, diagnostics } = answer.response;
  return { allowed: decision === 'allow', rules: [...diagnostics.reason].sort(), errors: diagnostics.errors.length > 0 };
}

/** Calls per round for `call`: as many as take about `seconds` (at least 50), measured after
 * a warm-up of `warmup` seconds (V8 tiers a wasm module up while it runs). */
function calibrate(call, items, seconds, warmup) {
  let k = 0;
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < warmup * 1e9 || calls < items.length) {
    call(items[k]);
    k = k + 1 === items.length ? 0 : k + 1;
    calls += 1;
    elapsed = Number(process.hrtime.bigint() - start);
  }
  return Math.max(50, Math.round((calls / elapsed) * seconds * 1e9));
}

function timeRounds(call, items, rounds, decisions) {
  const walls = [];
  const cpu = [];
  let k = 0;
  for (let r = 0; r < rounds; r++) {
    const startCpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < decisions; i++) {
      call(items[k]);
      k = k + 1 === items.length ? 0 : k + 1;
    }
    const wall = Number(process.hrtime.bigint() - start);
    const used = process.cpuUsage(startCpu);
    walls.push(wall / decisions);
    cpu.push(((used.user + used.system) * 1000) / decisions);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { decisions, wall_ns: median(walls), cpu_ns: median(cpu), wall_ns_min: Math.min(...walls), wall_ns_max: Math.max(...walls) };
}

const options = parseArgs(process.argv.slice(2));
const dir = resolve(options.dir);
const rampartRequests = lines(join(dir, 'rampart-requests.jsonl'));
const cedarRequests = lines(join(dir, 'cedar-requests.jsonl'));
if (rampartRequests.length !== cedarRequests.length || rampartRequests.length === 0) {
  throw new Error(`${rampartRequests.length} Rampart and ${cedarRequests.length} Cedar requests: emit writes the same number of each`);
}
const entitiesText = readFileSync(join(dir, 'entities.json'), 'utf8');
const entities = JSON.parse(entitiesText);
const policyText = readFileSync(join(dir, 'policies.cedar'), 'utf8');

const engine = await Rampart.load(readFileSync(join(dir, 'bundle.json')), entitiesText);
const policies = cedarPolicies(policyText);
const preparsed = cedar.preparsePolicySet('small', { staticPolicies: policies });
if (preparsed.type !== 'success') throw new Error(`preparsePolicySet: ${JSON.stringify(preparsed.errors)}`);

const texts = rampartRequests.map((r) => JSON.stringify(r));
const calls = {
  'rampart-object': (i) => engine.decide(rampartRequests[i]),
  'rampart-text': (i) => engine.decide(texts[i]),
  'cedar-stateful': (i) => cedar.statefulIsAuthorized({ ...cedarRequests[i], preparsedPolicySetId: 'small', entities }),
  'cedar-text': (i) => cedar.isAuthorized({ ...cedarRequests[i], policies: { staticPolicies: policyText }, entities }),
};

// Agreement first.
let allowed = 0;
for (let i = 0; i < rampartRequests.length; i++) {
  const answers = {};
  for (const name of ['rampart-object', 'rampart-text']) {
    const d = calls[name](i);
    answers[name] = { allowed: d.allowed, rules: [...d.rules].sort(), errors: d.errors.length > 0 };
  }
  answers['cedar-stateful'] = cedarAnswer(calls['cedar-stateful'](i));
  const text = cedarAnswer(calls['cedar-text'](i));
  // With the policies as one text, Cedar names them policy0, policy1, …: compare decisions.
  if (text.allowed !== answers['cedar-stateful'].allowed || text.errors) answers['cedar-text'] = text;
  const distinct = new Set(Object.values(answers).map((a) => JSON.stringify(a)));
  if (distinct.size !== 1 || answers['rampart-object'].errors) {
    console.error(`error: the engines disagree (or report an error) on request ${i}\n  rampart: ${texts[i]}\n  cedar:   ${JSON.stringify(cedarRequests[i])}`);
    for (const [name, answer] of Object.entries(answers)) console.error(`  ${name}: ${JSON.stringify(answer)}`);
    process.exit(1);
  }
  allowed += Number(answers['rampart-object'].allowed);
}
console.log(`${rampartRequests.length} requests, ${allowed} allowed: every timed call agrees on every one`);

const indexes = rampartRequests.map((_, i) => i);
const results = {};
for (const name of Object.keys(calls)) {
  const decisions = calibrate(calls[name], indexes, options.seconds, options.warmup);
  results[name] = timeRounds(calls[name], indexes, options.rounds, decisions);
}
if (engine.info().memory.live_blocks !== 0) throw new Error('rampart-policy leaked blocks');

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, os: `${process.platform} ${release()}`, node: process.version };
const versions = { 'rampart-policy': engine.info().engine_version, '@cedar-policy/cedar-wasm': CEDAR_WASM_VERSION, cedar: cedar.getCedarVersion() };
const ratio = (name) => results[name].wall_ns / results['rampart-object'].wall_ns;
console.log(`\n${machine.cpu} (${machine.cores} cores), Node ${process.version}; ${JSON.stringify(versions)}`);
console.log(`${options.rounds} rounds of about ${options.seconds} s each per call, after a ${options.warmup} s warm-up; median round per decision\n`);
console.log('| call | decisions/round | wall ns/decision | CPU ns/decision | wall min–max | vs rampart-object |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [name, r] of Object.entries(results)) {
  console.log(`| ${name} | ${r.decisions} | ${r.wall_ns.toFixed(0)} | ${r.cpu_ns.toFixed(0)} | ${r.wall_ns_min.toFixed(0)}–${r.wall_ns_max.toFixed(0)} | ${ratio(name).toFixed(1)}× |`);
}
console.log('');
for (const [name, what] of Object.entries(ROWS)) console.log(`- ${name}: ${what}`);
if (options.json) {
  writeFileSync(options.json, JSON.stringify({ machine, versions, requests: rampartRequests.length, allowed, rounds: options.rounds, seconds: options.seconds, warmup: options.warmup, rows: ROWS, results }, null, 2));
}
