/**
 * `rampart-policy`: Rampart's decision engine in-process, in Node (18 or newer) and in
 * browsers.
 *
 * **Key design decision:** the package is a thin host over the engine's plain-ABI
 * WebAssembly module (docs/wasm.md), the module every other wasm host uses and the tests
 * compare with the native engine byte for byte: a request crosses as JSON text written into
 * a block of the module's memory, the answer comes back as JSON text in another block, and
 * both blocks are freed before the call returns, so memory use does not depend on the
 * garbage collector. Every failure is a typed error (`PolicyError`, `RequestError`,
 * `EntityError`, `PlanError`, all subclasses of `RampartError`), as in the Python binding;
 * nothing a caller passes can trap the module.
 *
 * This file is the one source of the package: `tsc` compiles it to `dist/index.js` and
 * generates `dist/index.d.ts` from it.
 */

/** The ABI version of the engine module this package speaks (docs/wasm.md). */
export const ABI_VERSION = 1;

/** The package's version, the workspace's. */
export const VERSION = '0.1.0';

// ---------------------------------------------------------------------------------------
// Errors

/** Every error of the package. */
export class RampartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bundle that does not load (not a bundle, another format version, not UTF-8), or an
 * engine module that cannot be compiled or speaks another ABI. */
export class PolicyError extends RampartError {}

/** A request that cannot be read against the policy's schema (invalid JSON, a wrong shape,
 * an unknown action or attribute, more than 1 MiB), or that is not an object or JSON text. */
export class RequestError extends RampartError {}

/** Entity data that cannot be read against the policy's schema. */
export class EntityError extends RampartError {}

/** A plan that cannot be made: a rule reads the resource in a way no plan can express
 * (`rule` and `construct` say where), or the plan's condition would be too large. */
export class PlanError extends RampartError {
  /** The rule or obligation whose condition cannot be planned, when that is the reason. */
  readonly rule: string | undefined;
  /** The construct that cannot be planned, when that is the reason. */
  readonly construct: string | undefined;
  constructor(message: string, rule?: string, construct?: string) {
    super(message);
    this.rule = rule;
    this.construct = construct;
  }
}

// ---------------------------------------------------------------------------------------
// Requests and answers: the JSON shapes of `rampart eval`, the sidecar and the wasm module.

/** An entity reference: `{type, id}`, or the text `Type::"id"`. */
export type EntityRef = { type: string; id: string } | string;

/** The raw HTTP facts of a request, mapped to an action and resource by the bundle's routes. */
export interface HttpRequest {
  method: string;
  path: string;
  headers?: Record<string, string | string[]>;
  [field: string]: unknown;
}

/** A request: principal, action, resource and context, or raw `http`. */
export interface Request {
  principal?: EntityRef;
  action?: string;
  resource?: EntityRef;
  context?: Record<string, unknown>;
  http?: HttpRequest;
  [field: string]: unknown;
}

/** A plan request: a request whose `resource` names only a type. */
export interface PlanRequest {
  principal?: EntityRef;
  action: string;
  resource: { type: string } | string;
  context?: Record<string, unknown>;
  [field: string]: unknown;
}

/** An error met while deciding: `rule` is the rule or obligation being evaluated. */
export interface DecisionError {
  rule: string | null;
  message: string;
}

/** An obligation of an allow that the enforcer must carry out. */
export interface Obligation {
  kind: 'mask' | 'request_header' | 'response_header' | 'rate_limit' | (string & {});
  rule: string;
  [field: string]: unknown;
}

/** The decision JSON every door answers. */
export interface DecisionJson {
  decision: 'allow' | 'deny';
  rules: string[];
  reasons: string[];
  errors: DecisionError[];
  obligations: Obligation[];
  controls: string[];
}

/** The answer to one request. */
export class Decision {
  /** Whether the request is allowed: the only field an enforcer needs. */
  readonly allowed: boolean;
  readonly decision: 'allow' | 'deny';
  /** The rules that decided. */
  readonly rules: string[];
  /** The `reason` texts of the deciding rules. */
  readonly reasons: string[];
  /** Every error met while deciding (a rule whose condition failed). */
  readonly errors: DecisionError[];
  /** Obligations of an allow. */
  readonly obligations: Obligation[];
  /** The compliance controls of the deciding rules. */
  readonly controls: string[];

  /** @internal */
  constructor(json: DecisionJson) {
    this.allowed = json.decision === 'allow';
    this.decision = json.decision;
    this.rules = json.rules;
    this.reasons = json.reasons;
    this.errors = json.errors;
    this.obligations = json.obligations;
    this.controls = json.controls;
  }

  /** The decision JSON of every door (`JSON.stringify(decision)` writes it). */
  toJSON(): DecisionJson {
    return {
      decision: this.decision,
      rules: this.rules,
      reasons: this.reasons,
      errors: this.errors,
      obligations: this.obligations,
      controls: this.controls,
    };
  }
}

/** What happened to one rule or obligation the index selected. */
export interface RuleTrace {
  id: string;
  kind: 'allow' | 'deny' | 'require' | 'obligation';
  outcome: 'applied' | 'not_applied' | 'error';
  /** Which conjunct decided, e.g. ``when: `context.tls.mtls` was false``. */
  detail: string;
}

/** A decision and why: for each rule and obligation the index selected, whether it applied
 * and which condition decided. */
export class Explanation {
  readonly decision: Decision;
  /** The principal decided for (after mapping): `User::"alice"`. */
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  /** The route a raw HTTP request matched: `GET /v1/accounts/{id}`. */
  readonly route: string | null;
  /** Rules first, then obligations, in bundle order. */
  readonly rules: RuleTrace[];

  /** @internal */
  constructor(json: DecisionJson & { explain: ExplanationJson }) {
    this.decision = new Decision(json);
    this.principal = json.explain.principal;
    this.action = json.explain.action;
    this.resource = json.explain.resource;
    this.route = json.explain.route;
    this.rules = json.explain.rules;
  }

  /** The JSON `rampart eval --explain` prints: the decision's fields, then `explain`. */
  toJSON(): DecisionJson & { explain: ExplanationJson } {
    return {
      ...this.decision.toJSON(),
      explain: {
        principal: this.principal,
        action: this.action,
        resource: this.resource,
        route: this.route,
        rules: this.rules,
      },
    };
  }
}

/** The `explain` part of an explained decision's JSON. */
export interface ExplanationJson {
  principal: string;
  action: string;
  resource: string;
  route: string | null;
  rules: RuleTrace[];
}

/** The plan JSON of `rampart plan` and the sidecar's `POST /v1/plan` (docs/plan.md). */
export interface PlanJson {
  decision: 'always' | 'never' | 'conditional';
  resource_type: string;
  principal: { type: string; id: string } | null;
  rules: string[];
  obligations: string[];
  controls: string[];
  condition?: Record<string, unknown>;
  text?: string;
}

/** A query plan: which resources of a type the request may act on. */
export class Plan {
  readonly decision: 'always' | 'never' | 'conditional';
  readonly resourceType: string;
  /** The residual condition in its JSON form (docs/plan.md); `null` unless conditional. */
  readonly condition: Record<string, unknown> | null;
  /** The condition in the policy language's syntax; `null` unless conditional. */
  readonly text: string | null;
  readonly rules: string[];
  readonly obligations: string[];
  readonly controls: string[];
  /** The whole plan JSON. */
  readonly json: PlanJson;

  /** @internal */
  constructor(json: PlanJson) {
    this.decision = json.decision;
    this.resourceType = json.resource_type;
    this.condition = json.condition ?? null;
    this.text = json.text ?? null;
    this.rules = json.rules;
    this.obligations = json.obligations;
    this.controls = json.controls;
    this.json = json;
  }

  /** The plan JSON (`JSON.stringify(plan)` writes what `rampart plan` prints). */
  toJSON(): PlanJson {
    return this.json;
  }
}

/** What an engine holds (`rampart_info`). */
export interface Info {
  abi_version: number;
  engine_version: string;
  bundle: { revision: string; rules: number; routes: number } | null;
  error?: string;
  entities: number;
  /** The module's blocks not yet freed: constant between calls, since every call frees its
   * own. */
  memory: { live_blocks: number; live_bytes: number };
}

/** Where the engine module comes from: its bytes, a compiled module, or a URL to fetch
 * (a `file:` URL is read from disk in Node). */
export type WasmSource =
  | Uint8Array
  | ArrayBuffer
  | WebAssembly.Module
  | URL
  | string;

export interface LoadOptions {
  /** The engine module; by default `rampart.wasm` of this package, found next to
   * `dist/` through `import.meta.url` (read from disk in Node, fetched in a browser). */
  wasm?: WasmSource;
}

export interface CallOptions {
  /** The time `context.time` is filled with when the request carries none; by default the
   * host's clock. */
  now?: Date | number;
  /** `false`: leave `context.time` unset when the request carries none (a rule reading
   * `now` then fails closed), as Python's `fill_time=False`. Default `true`. */
  fillTime?: boolean;
}

/** A bundle: the JSON `rampart build DIR -o bundle.json` writes, as text or bytes. */
export type BundleInput = Uint8Array | ArrayBuffer | string;

/** Entity data: a Cedar-format JSON array (`entities.json`), as text or objects. */
export type EntityInput = string | readonly object[];

// ---------------------------------------------------------------------------------------
// The engine module

interface Exports {
  memory: WebAssembly.Memory;
  rampart_abi_version(): number;
  rampart_alloc(len: number): number;
  rampart_free(ptr: number, len: number): void;
  rampart_decide(ptr: number, len: number): bigint;
  rampart_decide_at(ptr: number, len: number, nowMs: bigint): bigint;
  rampart_explain(ptr: number, len: number): bigint;
  rampart_explain_at(ptr: number, len: number, nowMs: bigint): bigint;
  rampart_plan(ptr: number, len: number): bigint;
  rampart_plan_at(ptr: number, len: number, nowMs: bigint): bigint;
  rampart_load_entities(ptr: number, len: number): bigint;
  rampart_load_bundle(ptr: number, len: number): bigint;
  rampart_info(): bigint;
}

const REQUIRED_EXPORTS = [
  'rampart_alloc',
  'rampart_free',
  'rampart_decide',
  'rampart_decide_at',
  'rampart_explain',
  'rampart_explain_at',
  'rampart_plan',
  'rampart_plan_at',
  'rampart_load_entities',
  'rampart_load_bundle',
  'rampart_info',
] as const;

/** The plain engine module carries no policy: it asks for one through two imports, which
 * answer an empty payload here; the bundle is then loaded with `rampart_load_bundle`. */
const IMPORTS: WebAssembly.Imports = {
  rampart_embed: {
    rampart_payload_len: () => 0,
    rampart_payload_copy: () => {},
  },
};

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The compiled default module, compiled once per process (or page). */
let defaultModule: Promise<WebAssembly.Module> | undefined;

async function readUrl(url: URL): Promise<Uint8Array | Response> {
  if (url.protocol === 'file:') {
    try {
      // Node only; the specifier is not a literal so that bundlers for browsers leave it.
      const specifier = 'node:fs/promises';
      const fs = await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier);
      return new Uint8Array(await fs.readFile(url));
    } catch (error) {
      throw new PolicyError(`cannot read the engine module \`${url.href}\`: ${(error as Error).message}`);
    }
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new PolicyError(`cannot fetch the engine module \`${url.href}\`: ${(error as Error).message}`);
  }
  if (!response.ok) {
    throw new PolicyError(`cannot fetch the engine module \`${url.href}\`: HTTP ${response.status}`);
  }
  return response;
}

/** Where a relative URL is resolved: the page's address in a browser, else this module's. */
function pageUrl(): string {
  try {
    if (typeof location === 'object' && location !== null) return location.href;
  } catch {
    // A runtime whose `location` throws when unset (Deno without --location).
  }
  return import.meta.url;
}

async function compile(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  let bytes: Uint8Array | ArrayBuffer | Response;
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    bytes = source;
  } else if (source instanceof URL || typeof source === 'string') {
    bytes = await readUrl(source instanceof URL ? source : new URL(source, pageUrl()));
  } else {
    throw new PolicyError('`wasm` is the bytes of the engine module, a WebAssembly.Module or a URL');
  }
  try {
    if (typeof Response === 'function' && bytes instanceof Response) {
      const type = bytes.headers.get('content-type') ?? '';
      if (type.startsWith('application/wasm') && WebAssembly.compileStreaming) {
        return await WebAssembly.compileStreaming(bytes);
      }
      return await WebAssembly.compile(await bytes.arrayBuffer());
    }
    return await WebAssembly.compile(bytes as BufferSource);
  } catch (error) {
    throw new PolicyError(`the engine module does not compile: ${(error as Error).message}`);
  }
}

function engineModule(source: WasmSource | undefined): Promise<WebAssembly.Module> {
  if (source !== undefined) return compile(source);
  defaultModule ??= compile(new URL('../rampart.wasm', import.meta.url)).catch((error) => {
    defaultModule = undefined;
    throw error;
  });
  return defaultModule;
}

/** Text for the module: JSON text as is, bytes decoded as UTF-8, data as JSON. */
function inputText(value: unknown, what: string, fail: (message: string) => RampartError): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    try {
      return decoder.decode(value);
    } catch {
      throw fail(`${what}: not UTF-8`);
    }
  }
  if (value === null || typeof value !== 'object') {
    throw fail(`${what}: expected an object or JSON text, not ${value === null ? 'null' : typeof value}`);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw fail(`${what}: cannot be written as JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw fail(`${what}: cannot be written as JSON`);
  return text;
}

function millis(now: Date | number | undefined): bigint {
  const ms = now === undefined ? Date.now() : now instanceof Date ? now.getTime() : now;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new RequestError('`now` is a Date or milliseconds since the Unix epoch');
  }
  return BigInt(Math.trunc(ms));
}

// ---------------------------------------------------------------------------------------
// The engine

/** A policy bundle loaded into its own instance of the engine module, with its entity data. */
export class Rampart {
  #exports: Exports | null;

  private constructor(exports: Exports) {
    this.#exports = exports;
  }

  /**
   * Loads a bundle (the JSON `rampart build DIR -o bundle.json` writes) and, optionally,
   * its entity data, into a new instance of the engine module. Rejects with `PolicyError`
   * when the bundle does not load, `EntityError` when the entities do not.
   */
  static async load(bundle: BundleInput, entities?: EntityInput, options: LoadOptions = {}): Promise<Rampart> {
    const module = await engineModule(options.wasm);
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(module, IMPORTS);
    } catch (error) {
      throw new PolicyError(`the engine module does not instantiate: ${(error as Error).message}`);
    }
    const exports = instance.exports as unknown as Exports;
    const version = typeof exports.rampart_abi_version === 'function' ? exports.rampart_abi_version() : undefined;
    if (version !== ABI_VERSION) {
      throw new PolicyError(`the engine module speaks ABI version ${version}, this package speaks ${ABI_VERSION}`);
    }
    const missing = REQUIRED_EXPORTS.filter((name) => typeof exports[name] !== 'function');
    if (missing.length > 0) {
      throw new PolicyError(`the engine module lacks ${missing.join(', ')}: it is older than this package`);
    }
    const rampart = new Rampart(exports);
    const text = inputText(bundle, 'bundle', (m) => new PolicyError(m));
    const status = JSON.parse(rampart.#call((e, p, l) => e.rampart_load_bundle(p, l), text, PolicyError));
    if (!status.ok) throw new PolicyError(String(status.error));
    if (entities !== undefined) rampart.loadEntities(entities);
    return rampart;
  }

  /**
   * Decides one request (an object, or JSON text). `context.time` is the host's clock (or
   * `options.now`) when the request carries none. Throws `RequestError` for a request that
   * cannot be read; a request that is read is always decided (errors in rules are listed in
   * `errors`, and fail closed).
   */
  decide(request: Request | string, options?: CallOptions): Decision {
    const json = JSON.parse(this.#request('rampart_decide', request, options));
    return new Decision(checked(json));
  }

  /** Decides a request and says why, rule by rule (`rampart eval --explain`). */
  explain(request: Request | string, options?: CallOptions): Explanation {
    const json = JSON.parse(this.#request('rampart_explain', request, options));
    if (json.explain === undefined) checked(json);
    if (json.explain === undefined) throw new RampartError('the engine module answered no explanation');
    return new Explanation(json);
  }

  /**
   * A query plan (docs/plan.md): `request.resource` names only a type; the answer says
   * which resources of it the request may act on. Throws `RequestError` for a request that
   * cannot be read, `PlanError` for one that cannot be planned.
   */
  plan(request: PlanRequest | string, options?: CallOptions): Plan {
    const json = JSON.parse(this.#request('rampart_plan', request, options));
    if (typeof json.error === 'string') {
      switch (json.kind) {
        case 'request':
          throw new RequestError(json.error);
        case 'unsupported':
          throw new PlanError(json.error, json.rule, json.construct);
        case 'policy':
          throw new PolicyError(json.error);
        default:
          throw new PlanError(json.error);
      }
    }
    return new Plan(json);
  }

  /** Replaces the entity data (a Cedar-format JSON array, as text or objects); returns the
   * number of entities. Throws `EntityError` and keeps the current data when it does not
   * load. */
  loadEntities(entities: EntityInput): number {
    if (!Array.isArray(entities) && typeof entities !== 'string') {
      throw new EntityError('entity data must be a list of entities, or its JSON text');
    }
    const text = inputText(entities, 'entities', (m) => new EntityError(m));
    const status = JSON.parse(this.#call((e, p, l) => e.rampart_load_entities(p, l), text, EntityError));
    if (!status.ok) throw new EntityError(String(status.error));
    return status.entities as number;
  }

  /** What is loaded: versions, the bundle's revision and counts, entities, live blocks. */
  info(): Info {
    const exports = this.#live();
    return JSON.parse(this.#take(exports, exports.rampart_info()));
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#exports === null;
  }

  /** Drops the instance and its memory; later calls throw `RampartError`. */
  close(): void {
    this.#exports = null;
  }

  #live(): Exports {
    if (this.#exports === null) throw new RampartError('the policy is closed');
    return this.#exports;
  }

  /** Calls a request export (`name` or `name_at`) on `request`; returns the answer text. */
  #request(name: 'rampart_decide' | 'rampart_explain' | 'rampart_plan', request: unknown, options?: CallOptions): string {
    const exports = this.#live();
    if (request === undefined || request === null || (typeof request !== 'string' && typeof request !== 'object') || Array.isArray(request)) {
      const kind = request === null ? 'null' : Array.isArray(request) ? 'an array' : typeof request;
      throw new RequestError(`request: expected an object or JSON text, not ${kind}`);
    }
    const text = inputText(request, 'request', (m) => new RequestError(m));
    if (options?.fillTime === false) {
      return this.#call((e, p, l) => e[name](p, l), text, RequestError, exports);
    }
    const now = millis(options?.now);
    const at = `${name}_at` as const;
    return this.#call((e, p, l) => e[at](p, l, now), text, RequestError, exports);
  }

  /** Alloc a block, write `text`, call, read the result; both blocks are freed before this
   * returns, whatever happens. */
  #call(
    fn: (exports: Exports, ptr: number, len: number) => bigint,
    text: string,
    error: new (message: string) => RampartError,
    exports: Exports = this.#live(),
  ): string {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: one block fits, then the exact length
    // written is passed (a block may be larger than its input).
    const capacity = text.length * 3;
    const ptr = capacity > 0x7fffffff ? 0 : exports.rampart_alloc(capacity);
    if (ptr === 0 && capacity > 0) {
      throw new error(`the input is too large: ${text.length} characters`);
    }
    try {
      const view = new Uint8Array(exports.memory.buffer, ptr >>> 0, capacity);
      const { written } = encoder.encodeInto(text, view);
      return this.#take(exports, fn(exports, ptr, written));
    } finally {
      exports.rampart_free(ptr, capacity);
    }
  }

  /** Reads the result `(ptr << 32) | len` as text, then frees it. */
  #take(exports: Exports, result: bigint): string {
    const bits = BigInt.asUintN(64, result);
    const ptr = Number(bits >> 32n);
    const len = Number(bits & 0xffffffffn);
    try {
      // The memory may have grown during the call: take the buffer again.
      return decoder.decode(new Uint8Array(exports.memory.buffer, ptr, len));
    } finally {
      exports.rampart_free(ptr, len);
    }
  }
}

/** A decision that is the engine's answer to an unreadable request (a deny whose only error
 * names no rule: every error met while deciding names its rule or obligation) raises
 * `RequestError`, as the Python binding does. */
function checked(json: DecisionJson): DecisionJson {
  const [first] = json.errors;
  if (json.decision === 'deny' && json.rules.length === 0 && json.errors.length === 1 && first && first.rule === null) {
    throw new RequestError(first.message);
  }
  return json;
}

// `using engine = await Rampart.load(...)` closes it at the end of the scope, where the
// runtime has explicit resource management (Symbol.dispose).
const dispose = (Symbol as { dispose?: symbol }).dispose;
if (typeof dispose === 'symbol') {
  Object.defineProperty(Rampart.prototype, dispose, {
    value: function (this: Rampart) {
      this.close();
    },
    writable: true,
    configurable: true,
  });
}
