// `npm pack` runs this first: the package must hold its built files.
import { existsSync } from 'node:fs';

const missing = ['dist/index.js', 'dist/index.d.ts', 'rampart.wasm', 'LICENSE', 'CHANGELOG.md'].filter((f) => !existsSync(f));
if (missing.length > 0) {
  console.error(`rampart-policy is not built (missing ${missing.join(', ')}): run \`npm run build\``);
  process.exit(1);
}
