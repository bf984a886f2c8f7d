#!/usr/bin/env node
// Decide requests with a Rampart policy module, using only Node's built-in WebAssembly.
//
//   node decide.mjs policy.wasm request.json [request.json ...]   one decision JSON per file
//   node decide.mjs policy.wasm --lines < requests.jsonl          one decision JSON per line
//   node decide.mjs policy.wasm --info                            what the module holds
//
// Add `--entities FILE` to replace the entities embedded in the module.
// Exit code: 0 when every decision is an allow, 1 when one is a deny, 2 on a usage error.

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { RampartPolicy } from './rampart.mjs';

async function main(argv) {
  const [modulePath, ...rest] = argv;
  if (!modulePath) {
    console.error('usage: decide.mjs POLICY.wasm (REQUEST.json ... | --lines | --info) [--entities FILE]');
    return 2;
  }
  const policy = await RampartPolicy.load(readFileSync(modulePath));
  const files = [];
  let lines = false;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--info') {
      console.log(JSON.stringify(policy.info()));
      return 0;
    } else if (rest[i] === '--lines') {
      lines = true;
    } else if (rest[i] === '--entities') {
      const status = policy.loadEntities(readFileSync(rest[++i], 'utf8'));
      if (!status.ok) {
        console.error(`error: ${status.error}`);
        return 2;
      }
    } else {
      files.push(rest[i]);
    }
  }
  let denied = false;
  const decide = (text) => {
    const decision = policy.decideJson(text);
    denied ||= JSON.parse(decision).decision !== 'allow';
    console.log(decision);
  };
  if (lines) {
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      if (line.trim() !== '') decide(line);
    }
  }
  for (const file of files) decide(readFileSync(file, 'utf8'));
  return denied ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
