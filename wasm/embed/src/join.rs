//! On the host: joining a payload into a prebuilt module.
//!
//! The module imports `rampart_embed.rampart_payload_len: () -> i32` and
//! `rampart_embed.rampart_payload_copy: (i32) -> ()` (see `embedded_payload`). [`join`]
//! copies the module section by section with `wasm-encoder`'s reencoder and:
//!
//! 1. removes those two imports and renumbers every function reference (calls,
//!    `ref.func`, the element segments, exports, the start function) to match;
//! 2. defines them as two small functions appended to the module: `i32.const LEN`, and
//!    `memory.init` of a new **passive** data segment holding the payload;
//! 3. appends that segment (and adds or updates the data-count section);
//! 4. drops every custom section (names, producers, debug info) and the linker's
//!    `__data_end`/`__heap_base` exports;
//! 5. validates the result.
//!
//! A passive segment is never written to memory at instantiation: the module copies it
//! into memory it allocated itself when it first needs it, so joining makes no
//! assumption about the module's memory layout or allocator, and works the same for
//! `wasm32-unknown-unknown` and `wasm32-wasip1` modules.

use std::fmt;

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, DataCountSection, DataSection, EntityType, Function, FunctionSection,
    ImportSection, Instruction, Module, RawSection,
};
use wasmparser::{FuncType, Parser, Payload as Section, TypeRef, ValType, Validator, WasmFeatures};

/// The import module of the two functions the joiner defines.
pub const IMPORT_MODULE: &str = "rampart_embed";
/// `() -> i32`: the payload's length.
pub const LEN_IMPORT: &str = "rampart_payload_len";
/// `(dst: i32) -> ()`: copies the payload to `dst`.
pub const COPY_IMPORT: &str = "rampart_payload_copy";

/// Globals the linker exports from every Rust `cdylib` (`wasm-ld`'s memory layout), which
/// are not part of any Rampart ABI: joining drops these exports.
const LINKER_GLOBALS: [&str; 2] = ["__data_end", "__heap_base"];

/// Why a module could not be joined (or inspected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinError {
    message: String,
}

impl JoinError {
    fn new(message: impl Into<String>) -> Self {
        JoinError {
            message: message.into(),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JoinError {}

impl From<wasmparser::BinaryReaderError> for JoinError {
    fn from(error: wasmparser::BinaryReaderError) -> Self {
        JoinError::new(format!("invalid wasm module: {}", error.message()))
    }
}

impl<E: fmt::Display> From<wasm_encoder::reencode::Error<E>> for JoinError {
    fn from(error: wasm_encoder::reencode::Error<E>) -> Self {
        JoinError::new(format!("cannot copy the wasm module: {error}"))
    }
}

/// The imports and exports of a module, as `(module, name)` and names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleInfo {
    pub imports: Vec<(String, String)>,
    pub exports: Vec<String>,
    /// Names of the custom sections.
    pub custom_sections: Vec<String>,
}

/// Lists a module's imports, exports and custom sections (validating it first).
pub fn inspect(module: &[u8]) -> Result<ModuleInfo, JoinError> {
    validate(module)?;
    let mut info = ModuleInfo::default();
    for section in Parser::new(0).parse_all(module) {
        match section? {
            Section::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    info.imports
                        .push((import.module.to_owned(), import.name.to_owned()));
                }
            }
            Section::ExportSection(reader) => {
                for export in reader {
                    info.exports.push(export?.name.to_owned());
                }
            }
            Section::CustomSection(reader) => info.custom_sections.push(reader.name().to_owned()),
            _ => {}
        }
    }
    Ok(info)
}

/// Joins `payload` (any bytes; see [`crate::Payload`]) into `module`, which must import
/// the payload functions; returns the new module, without imports from
/// [`IMPORT_MODULE`] and without custom sections.
pub fn join(module: &[u8], payload: &[u8]) -> Result<Vec<u8>, JoinError> {
    validate(module)?;
    let payload_len = i32::try_from(payload.len())
        .map_err(|_| JoinError::new("the payload is larger than 2 GiB"))?;
    let layout = Layout::scan(module)?;
    let mut renumber = Renumber { layout: &layout };
    let mut out = Module::new();
    let mut code: Option<CodeSection> = None;
    let mut code_written = false;
    let mut data_count_written = false;
    for section in Parser::new(0).parse_all(module) {
        let section = section?;
        // The code section arrives entry by entry; finish it before the next section.
        if !matches!(section, Section::CodeSectionEntry(_)) {
            if let Some(mut done) = code.take() {
                layout.append_payload_functions(&mut done, payload_len);
                out.section(&done);
                code_written = true;
            }
        }
        match section {
            Section::Version { .. } | Section::End(_) | Section::CustomSection(_) => {}
            Section::TypeSection(reader) => {
                let mut types = wasm_encoder::TypeSection::new();
                RoundtripReencoder.parse_type_section(&mut types, reader)?;
                out.section(&types);
            }
            Section::ImportSection(reader) => {
                let mut imports = ImportSection::new();
                for import in reader.into_imports() {
                    let import = import?;
                    if import.module != IMPORT_MODULE {
                        let ty: EntityType = renumber.entity_type(import.ty)?;
                        imports.import(import.module, import.name, ty);
                    }
                }
                if !imports.is_empty() {
                    out.section(&imports);
                }
            }
            Section::FunctionSection(reader) => {
                let mut functions = FunctionSection::new();
                renumber.parse_function_section(&mut functions, reader)?;
                for generated in &layout.generated {
                    functions.function(generated.type_index);
                }
                out.section(&functions);
            }
            Section::TableSection(reader) => {
                let mut tables = wasm_encoder::TableSection::new();
                renumber.parse_table_section(&mut tables, reader)?;
                out.section(&tables);
            }
            Section::MemorySection(reader) => {
                let mut memories = wasm_encoder::MemorySection::new();
                renumber.parse_memory_section(&mut memories, reader)?;
                out.section(&memories);
            }
            Section::TagSection(reader) => {
                let mut tags = wasm_encoder::TagSection::new();
                renumber.parse_tag_section(&mut tags, reader)?;
                out.section(&tags);
            }
            Section::GlobalSection(reader) => {
                let mut globals = wasm_encoder::GlobalSection::new();
                renumber.parse_global_section(&mut globals, reader)?;
                out.section(&globals);
            }
            Section::ExportSection(reader) => {
                let mut exports = wasm_encoder::ExportSection::new();
                for export in reader {
                    let export = export?;
                    if export.kind == wasmparser::ExternalKind::Global
                        && LINKER_GLOBALS.contains(&export.name)
                    {
                        continue;
                    }
                    renumber.parse_export(&mut exports, export)?;
                }
                out.section(&exports);
            }
            Section::StartSection { func, .. } => {
                let function_index = renumber.function_index(func)?;
                out.section(&wasm_encoder::StartSection { function_index });
            }
            Section::ElementSection(reader) => {
                let mut elements = wasm_encoder::ElementSection::new();
                renumber.parse_element_section(&mut elements, reader)?;
                out.section(&elements);
            }
            Section::DataCountSection { .. } => {
                out.section(&DataCountSection {
                    count: layout.data_segments.saturating_add(1),
                });
                data_count_written = true;
            }
            Section::CodeSectionStart { .. } => {
                if !data_count_written {
                    out.section(&DataCountSection {
                        count: layout.data_segments.saturating_add(1),
                    });
                    data_count_written = true;
                }
                code = Some(CodeSection::new());
            }
            Section::CodeSectionEntry(body) => {
                if let Some(section) = code.as_mut() {
                    renumber.parse_function_body(section, body)?;
                }
            }
            Section::DataSection(reader) => {
                let mut data = DataSection::new();
                renumber.parse_data_section(&mut data, reader)?;
                data.passive(payload.iter().copied());
                out.section(&data);
            }
            Section::UnknownSection { id, contents, .. } => {
                out.section(&RawSection { id, data: contents });
            }
            _ => return Err(JoinError::new("only core wasm modules can be joined")),
        }
    }
    if !code_written {
        return Err(JoinError::new("the module has no code section"));
    }
    if layout.data_segments == 0 {
        // The module had no data section: the payload's segment is the only one.
        let mut data = DataSection::new();
        data.passive(payload.iter().copied());
        out.section(&data);
    }
    let joined = out.finish();
    validate(&joined).map_err(|e| JoinError::new(format!("the joined module is invalid: {e}")))?;
    Ok(joined)
}

fn validate(module: &[u8]) -> Result<(), JoinError> {
    Validator::new_with_features(WasmFeatures::default())
        .validate_all(module)
        .map(|_| ())
        .map_err(JoinError::from)
}

/// One of the two payload functions: its old (import) index and its type.
struct Generated {
    import_index: u32,
    type_index: u32,
    kind: PayloadFunction,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PayloadFunction {
    Len,
    Copy,
}

/// What joining needs to know before copying: function imports, the payload imports and
/// where their definitions go, and the number of data segments.
struct Layout {
    /// Number of imported functions in the original module.
    imported_functions: u32,
    /// Number of functions (imported and defined) in the original module.
    functions: u32,
    generated: Vec<Generated>,
    data_segments: u32,
}

impl Layout {
    fn scan(module: &[u8]) -> Result<Layout, JoinError> {
        let mut types: Vec<Option<FuncType>> = Vec::new();
        let mut layout = Layout {
            imported_functions: 0,
            functions: 0,
            generated: Vec::new(),
            data_segments: 0,
        };
        for section in Parser::new(0).parse_all(module) {
            match section? {
                Section::TypeSection(reader) => {
                    for group in reader {
                        for sub in group?.into_types() {
                            types.push(match sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => Some(f),
                                _ => None,
                            });
                        }
                    }
                }
                Section::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import?;
                        let type_index = match import.ty {
                            TypeRef::Func(t) | TypeRef::FuncExact(t) => t,
                            _ => {
                                if import.module == IMPORT_MODULE {
                                    return Err(JoinError::new(format!(
                                        "import `{IMPORT_MODULE}.{}` must be a function",
                                        import.name
                                    )));
                                }
                                continue;
                            }
                        };
                        let index = layout.imported_functions;
                        layout.imported_functions = index.saturating_add(1);
                        if import.module != IMPORT_MODULE {
                            continue;
                        }
                        let (kind, params, results): (_, &[ValType], &[ValType]) = match import.name
                        {
                            LEN_IMPORT => (PayloadFunction::Len, &[], &[ValType::I32]),
                            COPY_IMPORT => (PayloadFunction::Copy, &[ValType::I32], &[]),
                            other => {
                                return Err(JoinError::new(format!(
                                    "unknown import `{IMPORT_MODULE}.{other}`"
                                )))
                            }
                        };
                        let ty = usize::try_from(type_index)
                            .ok()
                            .and_then(|t| types.get(t))
                            .and_then(Option::as_ref);
                        if !ty.is_some_and(|f| f.params() == params && f.results() == results) {
                            return Err(JoinError::new(format!(
                                "import `{IMPORT_MODULE}.{}` has the wrong type",
                                import.name
                            )));
                        }
                        layout.generated.push(Generated {
                            import_index: index,
                            type_index,
                            kind,
                        });
                    }
                }
                Section::FunctionSection(reader) => {
                    layout.functions = layout.imported_functions.saturating_add(reader.count());
                }
                Section::DataSection(reader) => layout.data_segments = reader.count(),
                _ => {}
            }
        }
        if layout.functions == 0 {
            layout.functions = layout.imported_functions;
        }
        if layout.generated.is_empty() {
            return Err(JoinError::new(format!(
                "the module does not read an embedded payload (it has no `{IMPORT_MODULE}` imports)"
            )));
        }
        Ok(layout)
    }

    /// The new index of function `old`.
    fn function_index(&self, old: u32) -> u32 {
        let removed = u32::try_from(self.generated.len()).unwrap_or(u32::MAX);
        if let Some(position) = self.generated.iter().position(|g| g.import_index == old) {
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            return self
                .functions
                .saturating_sub(removed)
                .saturating_add(position);
        }
        if old < self.imported_functions {
            let before = self
                .generated
                .iter()
                .filter(|g| g.import_index < old)
                .count();
            old.saturating_sub(u32::try_from(before).unwrap_or(u32::MAX))
        } else {
            old.saturating_sub(removed)
        }
    }

    /// Appends the bodies of the generated functions to the code section.
    fn append_payload_functions(&self, code: &mut CodeSection, payload_len: i32) {
        for generated in &self.generated {
            let mut body = Function::new([]);
            match generated.kind {
                PayloadFunction::Len => {
                    body.instruction(&Instruction::I32Const(payload_len));
                }
                PayloadFunction::Copy => {
                    body.instruction(&Instruction::LocalGet(0));
                    body.instruction(&Instruction::I32Const(0));
                    body.instruction(&Instruction::I32Const(payload_len));
                    body.instruction(&Instruction::MemoryInit {
                        mem: 0,
                        data_index: self.data_segments,
                    });
                }
            }
            body.instruction(&Instruction::End);
            code.function(&body);
        }
    }
}

/// The reencoder that renumbers functions after the payload imports are removed.
struct Renumber<'a> {
    layout: &'a Layout,
}

impl Reencode for Renumber<'_> {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, wasm_encoder::reencode::Error> {
        Ok(self.layout.function_index(func))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        ConstExpr, DataSection, ExportKind, ExportSection, MemorySection, MemoryType, TypeSection,
        ValType as Val,
    };

    /// Imports `env.a`, the payload length, `env.b`, the payload copy (in that order); one
    /// defined function `f` calls all four and is exported; one active data segment.
    fn module_with(imports: &[(&str, &str, u32)]) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], []); // 0: () -> ()
        types.ty().function([], [Val::I32]); // 1: () -> i32
        types.ty().function([Val::I32], []); // 2: (i32) -> ()
        let mut import_section = ImportSection::new();
        for (module, name, ty) in imports {
            import_section.import(module, name, EntityType::Function(*ty));
        }
        let mut functions = FunctionSection::new();
        functions.function(0);
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let defined = u32::try_from(imports.len()).unwrap();
        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        exports.export("f", ExportKind::Func, defined);
        exports.export("__heap_base", ExportKind::Global, 0);
        let mut globals = wasm_encoder::GlobalSection::new();
        globals.global(
            wasm_encoder::GlobalType {
                val_type: Val::I32,
                mutable: false,
                shared: false,
            },
            &ConstExpr::i32_const(1024),
        );
        let mut body = Function::new([]);
        for (index, (_, _, ty)) in imports.iter().enumerate() {
            let index = u32::try_from(index).unwrap();
            match ty {
                1 => {
                    body.instruction(&Instruction::Call(index));
                    body.instruction(&Instruction::Drop);
                }
                2 => {
                    body.instruction(&Instruction::I32Const(64));
                    body.instruction(&Instruction::Call(index));
                }
                _ => {
                    body.instruction(&Instruction::Call(index));
                }
            }
        }
        body.instruction(&Instruction::End);
        let mut code = CodeSection::new();
        code.function(&body);
        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(8), b"static".iter().copied());
        let mut module = Module::new();
        module
            .section(&types)
            .section(&import_section)
            .section(&functions)
            .section(&memories)
            .section(&globals)
            .section(&exports)
            .section(&code)
            .section(&data);
        module.finish()
    }

    fn standard() -> Vec<u8> {
        module_with(&[
            ("env", "a", 0),
            (IMPORT_MODULE, LEN_IMPORT, 1),
            ("env", "b", 0),
            (IMPORT_MODULE, COPY_IMPORT, 2),
        ])
    }

    /// The call targets of each defined function body, and the passive segments' bytes.
    fn calls_and_passive_data(module: &[u8]) -> (Vec<Vec<u32>>, Vec<Vec<u8>>) {
        let mut calls = Vec::new();
        let mut passive = Vec::new();
        for section in Parser::new(0).parse_all(module) {
            match section.unwrap() {
                Section::CodeSectionEntry(body) => {
                    let mut targets = Vec::new();
                    let mut reader = body.get_operators_reader().unwrap();
                    while !reader.eof() {
                        if let wasmparser::Operator::Call { function_index } =
                            reader.read().unwrap()
                        {
                            targets.push(function_index);
                        }
                    }
                    calls.push(targets);
                }
                Section::DataSection(reader) => {
                    for data in reader {
                        let data = data.unwrap();
                        if matches!(data.kind, wasmparser::DataKind::Passive) {
                            passive.push(data.data.to_vec());
                        }
                    }
                }
                _ => {}
            }
        }
        (calls, passive)
    }

    #[test]
    fn joining_replaces_the_payload_imports_and_renumbers_calls_and_exports() {
        let joined = join(&standard(), b"PAYLOAD").unwrap();
        let info = inspect(&joined).unwrap();
        assert_eq!(
            info.imports,
            [
                ("env".to_owned(), "a".to_owned()),
                ("env".to_owned(), "b".to_owned())
            ]
        );
        assert_eq!(
            info.exports,
            ["memory", "f"],
            "the linker's globals are not exported"
        );
        // Functions now: a (0), b (1), f (2), len (3), copy (4).
        let (calls, passive) = calls_and_passive_data(&joined);
        assert_eq!(calls, [vec![0, 3, 1, 4], vec![], vec![]]);
        assert_eq!(passive, [b"PAYLOAD".to_vec()]);
        for section in Parser::new(0).parse_all(&joined) {
            if let Section::ExportSection(reader) = section.unwrap() {
                let f = reader
                    .into_iter()
                    .map(Result::unwrap)
                    .find(|e| e.name == "f")
                    .unwrap();
                assert_eq!(f.index, 2);
            }
        }
    }

    #[test]
    fn an_empty_payload_and_a_module_without_data_join_too() {
        let joined = join(&standard(), b"").unwrap();
        assert_eq!(calls_and_passive_data(&joined).1, [Vec::<u8>::new()]);
        // Only the length import, and no data section at all.
        let mut module = module_with(&[(IMPORT_MODULE, LEN_IMPORT, 1)]);
        // Drop the trailing data section (id 11, the last section) by re-encoding without it.
        let mut stripped = Module::new();
        for section in Parser::new(0).parse_all(&module) {
            if let Some((id, range)) = section.unwrap().as_section() {
                if id != 11 {
                    stripped.section(&RawSection {
                        id,
                        data: &module[range],
                    });
                }
            }
        }
        module = stripped.finish();
        let joined = join(&module, b"xyz").unwrap();
        assert!(inspect(&joined).unwrap().imports.is_empty());
        assert_eq!(calls_and_passive_data(&joined).1, [b"xyz".to_vec()]);
    }

    #[test]
    fn modules_that_cannot_be_joined_are_refused_with_a_reason() {
        let error = |module: &[u8]| join(module, b"p").unwrap_err().to_string();
        assert!(error(b"\0asm\x01\0\0\0\x99").contains("invalid wasm module"));
        assert!(error(b"not wasm").contains("invalid wasm module"));
        assert!(
            error(&module_with(&[("env", "a", 0)])).contains("does not read an embedded payload")
        );
        assert!(error(&module_with(&[(IMPORT_MODULE, LEN_IMPORT, 0)])).contains("wrong type"));
        assert!(error(&module_with(&[(IMPORT_MODULE, "other", 0)])).contains("unknown import"));
    }
}
