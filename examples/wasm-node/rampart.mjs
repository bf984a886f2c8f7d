// A Rampart policy module (`rampart build DIR --target wasm`) driven from JavaScript with
// nothing but the built-in WebAssembly API: the whole ABI of docs/wasm.md in one class.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The ABI version this host speaks. */
export const ABI_VERSION = 1;

export class RampartPolicy {
  /** Compiles and instantiates a module (bytes of a .wasm file). The module has no imports. */
  static async load(bytes) {
    const { instance } = await WebAssembly.instantiate(bytes, {});
    return new RampartPolicy(instance);
  }

  constructor(instance) {
    this.exports = instance.exports;
    const version = this.exports.rampart_abi_version();
    if (version !== ABI_VERSION) {
      throw new Error(`module speaks ABI version ${version}, this host speaks ${ABI_VERSION}`);
    }
  }

  /** Decides a request (an object, or JSON text); returns the decision object. */
  decide(request) {
    return JSON.parse(this.decideJson(request));
  }

  /** Decides a request; returns the decision JSON text exactly as the module wrote it. */
  decideJson(request, nowMs) {
    const text = typeof request === 'string' ? request : JSON.stringify(request);
    if (nowMs === undefined) {
      return this.#call((ptr, len) => this.exports.rampart_decide(ptr, len), text);
    }
    return this.#call((ptr, len) => this.exports.rampart_decide_at(ptr, len, BigInt(nowMs)), text);
  }

  /** Replaces the entity data (an array, or JSON text); returns the status object. */
  loadEntities(entities) {
    const text = typeof entities === 'string' ? entities : JSON.stringify(entities);
    return JSON.parse(this.#call((ptr, len) => this.exports.rampart_load_entities(ptr, len), text));
  }

  /** What is loaded: ABI and engine versions, bundle revision and counts, entities. */
  info() {
    return JSON.parse(this.#take(this.exports.rampart_info()));
  }

  // Alloc a block, write the input, call, read the result, free both.
  #call(fn, text) {
    const bytes = encoder.encode(text);
    const ptr = this.exports.rampart_alloc(bytes.length);
    if (ptr === 0) {
      throw new Error(`the module cannot allocate ${bytes.length} bytes`);
    }
    // Take the view after each call: the memory may have grown (and its buffer changed).
    new Uint8Array(this.exports.memory.buffer, ptr >>> 0, bytes.length).set(bytes);
    try {
      return this.#take(fn(ptr, bytes.length));
    } finally {
      this.exports.rampart_free(ptr, bytes.length);
    }
  }

  // A result is an i64 (a BigInt here): (ptr << 32) | len.
  #take(result) {
    const bits = BigInt.asUintN(64, result);
    const ptr = Number(bits >> 32n);
    const len = Number(bits & 0xffffffffn);
    const text = decoder.decode(new Uint8Array(this.exports.memory.buffer, ptr, len));
    this.exports.rampart_free(ptr, len);
    return text;
  }
}
