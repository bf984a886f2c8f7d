//! A wasmtime host of the module's ABI, as any embedder would write it: alloc, write the
//! input, call, read the `(ptr << 32) | len` result, free both.

use std::sync::OnceLock;

use wasmtime::{Instance, Memory, Module, Store, TypedFunc};

/// One instance of a module and its exports.
pub struct Host {
    pub store: Store<()>,
    pub memory: Memory,
    pub instance: Instance,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
    decide: TypedFunc<(i32, i32), i64>,
}

/// The wasmtime engine of a test binary, shared by its tests: Winch, wasmtime's baseline
/// compiler, which compiles the 1 MB engine module many times faster than Cranelift (every
/// joined module is compiled anew). The benchmark uses Cranelift, the default.
pub fn test_engine() -> wasmtime::Engine {
    static ENGINE: OnceLock<wasmtime::Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = wasmtime::Config::new();
            config.strategy(wasmtime::Strategy::Winch);
            wasmtime::Engine::new(&config).unwrap_or_default()
        })
        .clone()
}

fn fail(error: impl std::fmt::Display) -> String {
    error.to_string()
}

impl Host {
    /// Instantiates `module` with no imports.
    pub fn new(engine: &wasmtime::Engine, module: &Module) -> Result<Host, String> {
        let mut store = Store::new(engine, ());
        let instance = Instance::new(&mut store, module, &[]).map_err(fail)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or("the module exports no `memory`")?;
        let alloc = instance
            .get_typed_func(&mut store, "rampart_alloc")
            .map_err(fail)?;
        let free = instance
            .get_typed_func(&mut store, "rampart_free")
            .map_err(fail)?;
        let decide = instance
            .get_typed_func(&mut store, "rampart_decide")
            .map_err(fail)?;
        Ok(Host {
            store,
            memory,
            instance,
            alloc,
            free,
            decide,
        })
    }

    /// A typed export.
    pub fn func<P, R>(&mut self, name: &str) -> Result<TypedFunc<P, R>, String>
    where
        P: wasmtime::WasmParams,
        R: wasmtime::WasmResults,
    {
        self.instance
            .get_typed_func(&mut self.store, name)
            .map_err(fail)
    }

    /// Copies `bytes` into a block from `rampart_alloc`; returns `(ptr, len)`.
    pub fn put(&mut self, bytes: &[u8]) -> Result<(i32, i32), String> {
        let len = i32::try_from(bytes.len()).map_err(fail)?;
        let ptr = self.alloc.call(&mut self.store, len).map_err(fail)?;
        if ptr == 0 {
            return Err(format!("rampart_alloc({len}) returned 0"));
        }
        let offset = usize::try_from(u32::from_ne_bytes(ptr.to_ne_bytes())).map_err(fail)?;
        self.memory
            .write(&mut self.store, offset, bytes)
            .map_err(fail)?;
        Ok((ptr, len))
    }

    /// Reads the text a result points at, then frees it.
    pub fn take(&mut self, packed: i64) -> Result<String, String> {
        let bits = u64::from_ne_bytes(packed.to_ne_bytes());
        let (ptr, len) = (bits >> 32, bits & 0xffff_ffff);
        let mut out = vec![0u8; usize::try_from(len).map_err(fail)?];
        self.memory
            .read(&self.store, usize::try_from(ptr).map_err(fail)?, &mut out)
            .map_err(fail)?;
        let (p, l) = (
            i32::from_ne_bytes(u32::try_from(ptr).map_err(fail)?.to_ne_bytes()),
            i32::from_ne_bytes(u32::try_from(len).map_err(fail)?.to_ne_bytes()),
        );
        self.free.call(&mut self.store, (p, l)).map_err(fail)?;
        String::from_utf8(out).map_err(fail)
    }

    /// Calls an export taking one input `(ptr, len)` and returning a result, the whole
    /// protocol: alloc, write, call, read, free both.
    pub fn call_with(&mut self, export: &str, input: &[u8]) -> Result<String, String> {
        let func: TypedFunc<(i32, i32), i64> = self.func(export)?;
        let (ptr, len) = self.put(input)?;
        let packed = func.call(&mut self.store, (ptr, len)).map_err(fail)?;
        let out = self.take(packed)?;
        self.free.call(&mut self.store, (ptr, len)).map_err(fail)?;
        Ok(out)
    }

    /// Decides request JSON text.
    pub fn decide(&mut self, request: &str) -> Result<String, String> {
        let (ptr, len) = self.put(request.as_bytes())?;
        let packed = self
            .decide
            .call(&mut self.store, (ptr, len))
            .map_err(fail)?;
        let out = self.take(packed)?;
        self.free.call(&mut self.store, (ptr, len)).map_err(fail)?;
        Ok(out)
    }

    /// `rampart_decide` on a raw range (for misuse tests).
    pub fn decide_raw(&mut self, ptr: i32, len: i32) -> Result<String, String> {
        let packed = self
            .decide
            .call(&mut self.store, (ptr, len))
            .map_err(fail)?;
        self.take(packed)
    }

    /// `rampart_info` as JSON.
    pub fn info(&mut self) -> Result<serde_json::Value, String> {
        let info: TypedFunc<(), i64> = self.func("rampart_info")?;
        let packed = info.call(&mut self.store, ()).map_err(fail)?;
        let text = self.take(packed)?;
        serde_json::from_str(&text).map_err(fail)
    }
}
