// Shared by the package's tests: the fixtures scripts/fixtures.sh writes (the native
// engine's answers), and the repository's paths.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(PACKAGE, '../..');
export const FIXTURES = process.env.RAMPART_JS_FIXTURES ?? join(PACKAGE, 'test/fixtures');

if (!existsSync(join(FIXTURES, 'payments/bundle.json'))) {
  throw new Error(`no fixtures in ${FIXTURES}: run bindings/js/scripts/fixtures.sh first`);
}

/** A fixture folder: its bundle text, entity text (or undefined) and cases. */
export function fixture(name) {
  const dir = join(FIXTURES, name);
  const entities = join(dir, 'entities.json');
  return {
    name,
    bundle: readFileSync(join(dir, 'bundle.json'), 'utf8'),
    entities: existsSync(entities) ? readFileSync(entities, 'utf8') : undefined,
    cases: JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')),
  };
}

/** The conformance folders' fixtures. */
export function conformance() {
  return readdirSync(FIXTURES)
    .filter((name) => /^\d\d-/.test(name))
    .sort()
    .map(fixture);
}

/** The error decision of every door for an unreadable request, as the engine writes it. */
export function errorDecision(message) {
  return JSON.stringify({ decision: 'deny', rules: [], reasons: [], errors: [{ rule: null, message }], obligations: [], controls: [] });
}
