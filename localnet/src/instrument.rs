//! Rewrites a canister module so the runtime can snapshot and restore it: every mutable global, the
//! function table and the memory are exported (wasmtime reaches only exported items), as the IC's own
//! instrumentation does. Every other section is copied byte for byte.

use wasm_encoder::{ExportKind, ExportSection};
use wasmparser::{BinaryReader, ExternalKind, TypeRef};

pub const GLOBAL_EXPORT_PREFIX: &str = "__localnet_global_";
pub const TABLE_EXPORT: &str = "__localnet_table";
pub const MEMORY_EXPORT: &str = "__localnet_memory";

#[derive(Debug, Clone)]
pub struct Instrumented {
    pub wasm: Vec<u8>,
    /// Export names of the mutable globals.
    pub mutable_globals: Vec<String>,
    pub has_table: bool,
    pub has_memory: bool,
    /// The module's own exports (`canister_update foo`, …).
    pub exports: Vec<String>,
    /// The `ic0` functions the module imports.
    pub ic0_imports: Vec<String>,
    /// The module's canister metadata: custom sections named `icp:public <name>` or
    /// `icp:private <name>` (the spec's convention; `candid:service` is the one clients read).
    pub metadata: Vec<Metadata>,
}

/// One `icp:` custom section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub name: String,
    /// Public sections may be read by anyone; private ones by the canister's controllers.
    pub public: bool,
    pub contents: Vec<u8>,
}

/// The metadata a custom section's name and contents declare, if it is an `icp:` section.
fn metadata(section: &[u8]) -> Result<Option<Metadata>, String> {
    let mut pos = 0;
    let len = read_leb_u32(section, &mut pos)? as usize;
    let name = section
        .get(pos..pos + len)
        .ok_or("custom section name runs past the section")?;
    let Ok(name) = std::str::from_utf8(name) else {
        return Ok(None);
    };
    let (public, name) = if let Some(name) = name.strip_prefix("icp:public ") {
        (true, name)
    } else if let Some(name) = name.strip_prefix("icp:private ") {
        (false, name)
    } else {
        return Ok(None);
    };
    Ok(Some(Metadata {
        name: name.to_string(),
        public,
        contents: section[pos + len..].to_vec(),
    }))
}

fn read_leb_u32(bytes: &[u8], pos: &mut usize) -> Result<u32, String> {
    let mut result: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*pos).ok_or("truncated module")?;
        *pos += 1;
        result |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return u32::try_from(result).map_err(|_| "LEB128 value too large".to_string());
        }
        shift += 7;
        if shift > 35 {
            return Err("LEB128 value too long".into());
        }
    }
}

struct Section<'a> {
    id: u8,
    /// The whole section: id, size and contents.
    raw: &'a [u8],
    contents: &'a [u8],
    offset: usize,
}

fn sections(wasm: &[u8]) -> Result<Vec<Section<'_>>, String> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err("not a wasm module (bad magic)".into());
    }
    let mut pos = 8;
    let mut out = Vec::new();
    while pos < wasm.len() {
        let start = pos;
        let id = wasm[pos];
        pos += 1;
        let size = read_leb_u32(wasm, &mut pos)? as usize;
        let end = pos.checked_add(size).filter(|e| *e <= wasm.len());
        let end = end.ok_or("section runs past the end of the module")?;
        out.push(Section {
            id,
            raw: &wasm[start..end],
            contents: &wasm[pos..end],
            offset: pos,
        });
        pos = end;
    }
    Ok(out)
}

fn export_kind(kind: ExternalKind) -> ExportKind {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Func,
        ExternalKind::Table => ExportKind::Table,
        ExternalKind::Memory => ExportKind::Memory,
        ExternalKind::Global => ExportKind::Global,
        ExternalKind::Tag => ExportKind::Tag,
    }
}

pub fn instrument(wasm: &[u8]) -> Result<Instrumented, String> {
    let sections = sections(wasm)?;
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    let mut imported_globals = 0u32;
    let mut imported_table = false;
    let mut imported_memory = false;
    let mut ic0_imports = Vec::new();
    let mut mutable_global_indices = Vec::new();
    let mut defined_table = false;
    let mut defined_memory = false;
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
    let mut has_export_section = false;
    let mut canister_metadata: Vec<Metadata> = Vec::new();
    for s in &sections {
        let reader = BinaryReader::new(s.contents, s.offset);
        match s.id {
            0 => {
                if let Some(m) = metadata(s.contents)? {
                    if canister_metadata.iter().any(|seen| seen.name == m.name) {
                        return Err(format!("the metadata section {} appears twice", m.name));
                    }
                    canister_metadata.push(m);
                }
            }
            2 => {
                let imports = wasmparser::ImportSectionReader::new(reader).map_err(err)?;
                for import in imports.into_imports() {
                    let import = import.map_err(err)?;
                    {
                        match import.ty {
                            TypeRef::Global(g) => {
                                if g.mutable {
                                    mutable_global_indices.push(imported_globals);
                                }
                                imported_globals += 1;
                            }
                            TypeRef::Table(_) => imported_table = true,
                            TypeRef::Memory(_) => imported_memory = true,
                            TypeRef::Func(_) | TypeRef::FuncExact(_) if import.module == "ic0" => {
                                ic0_imports.push(import.name.to_string())
                            }
                            _ => {}
                        }
                    }
                }
            }
            4 => defined_table = true,
            5 => defined_memory = true,
            6 => {
                let globals = wasmparser::GlobalSectionReader::new(reader).map_err(err)?;
                for (i, global) in globals.into_iter().enumerate() {
                    if global.map_err(err)?.ty.mutable {
                        mutable_global_indices.push(imported_globals + i as u32);
                    }
                }
            }
            7 => {
                has_export_section = true;
                for export in wasmparser::ExportSectionReader::new(reader).map_err(err)? {
                    let export = export.map_err(err)?;
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            _ => {}
        }
    }
    let module_exports: Vec<String> = exports.iter().map(|(n, _, _)| n.clone()).collect();
    let mut section = ExportSection::new();
    for (name, kind, index) in &exports {
        section.export(name, export_kind(*kind), *index);
    }
    let mut mutable_globals = Vec::new();
    for index in &mutable_global_indices {
        let name = format!("{GLOBAL_EXPORT_PREFIX}{index}");
        section.export(&name, ExportKind::Global, *index);
        mutable_globals.push(name);
    }
    let has_table = imported_table || defined_table;
    if has_table {
        section.export(TABLE_EXPORT, ExportKind::Table, 0);
    }
    let has_memory = imported_memory || defined_memory;
    if has_memory {
        section.export(MEMORY_EXPORT, ExportKind::Memory, 0);
    }
    let mut export_section = Vec::new();
    wasm_encoder::Section::append_to(&section, &mut export_section);

    let mut out = wasm[..8].to_vec();
    let mut written = false;
    for s in &sections {
        // Without an export section, insert one before the first section that must follow it.
        if !has_export_section && !written && matches!(s.id, 8..=12) {
            out.extend_from_slice(&export_section);
            written = true;
        }
        if s.id == 7 {
            out.extend_from_slice(&export_section);
            written = true;
        } else {
            out.extend_from_slice(s.raw);
        }
    }
    if !written {
        out.extend_from_slice(&export_section);
    }
    Ok(Instrumented {
        wasm: out,
        mutable_globals,
        has_table,
        has_memory,
        exports: module_exports,
        ic0_imports,
        metadata: canister_metadata,
    })
}
