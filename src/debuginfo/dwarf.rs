//! DWARF loader: a memory-mapped ELF file (a vmlinux) whose `.debug_info` is read lazily.
//!
//! Public API (used by the layout command and the kernel layer):
//! ```no_run
//! use vmscope::debuginfo;
//! use vmscope::types::model::{TypeSource, TypeSourceExt, NameKind};
//! let db = debuginfo::open("vmlinux".as_ref()).unwrap();
//! let mm = db.find_struct("mm_struct").unwrap().unwrap();       // TypeId
//! let size = db.size_of(mm).unwrap();                            // Some(bytes)
//! let (off, ty) = db.member_offset("mm_struct", "mm_mt.ma_root").unwrap();
//! let ty = db.get(ty).unwrap();                                  // &Type
//! let v = db.enumerator_value("maple_type", "maple_arange_64").unwrap();
//! ```
//! Resolving one struct parses only that struct's DIE (and, lazily, whatever `get` is asked
//! for next). `find` answers from the first compilation units by an early-exit scan, else from
//! a name index built in parallel over all units and cached on disk by build-id.
//!
//! The Debian vmlinux is ET_EXEC and carries `.rela.debug_*` sections whose relocations are
//! already applied to the DWARF: they are deliberately ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use gimli::{constants as dw, AttributeValue, UnitHeader};

use crate::types::model::{
    Access, ArrayType, BaseClass, BaseEncoding, BaseType, Composite, EnumType, Enumerator,
    FunctionType, Member, NameKind, Param, PointerType, Qualified, Qualifier, StaticMember, Type,
    TypeError, TypeId, TypeSource, Typedef,
};

use super::index::{self, IndexFile, IndexProgress};
pub use super::sections::DebugInfoError;
use super::sections::{DwarfFile, Slice, SUP_BIT};

/// Options for [`TypeDb::open_with`].
#[derive(Clone)]
pub struct OpenOptions {
    /// Directory of the on-disk name-index cache; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Told how a name-index build advances (the CLI draws a progress bar with it).
    pub progress: Option<IndexProgress>,
    /// Debug roots searched for a dwz supplementary file (`usr/lib/debug/.dwz/`, `.build-id/`),
    /// after the places next to the file.
    pub debug_roots: Vec<PathBuf>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            cache_dir: index::default_cache_dir(),
            progress: None,
            debug_roots: vec![PathBuf::from("/")],
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("cache_dir", &self.cache_dir)
            .field("progress", &self.progress.is_some())
            .field("debug_roots", &self.debug_roots)
            .finish()
    }
}

/// Open a vmlinux (or any ELF with DWARF) with default options.
pub fn open(path: &Path) -> Result<TypeDb, DebugInfoError> {
    TypeDb::open_with(path, OpenOptions::default())
}

/// A DWARF type database over a memory-mapped file.
pub struct TypeDb {
    file: DwarfFile,
    arena: Arena,
    index: OnceLock<Result<IndexFile, DebugInfoError>>,
    /// index with definition shapes, for the full listing (built only when asked for)
    shaped: OnceLock<Result<IndexFile, DebugInfoError>>,
    /// Answers found by the early-exit scan before the full index exists.
    early: Mutex<HashMap<(String, u8), Option<u64>>>,
    options: OpenOptions,
}

impl TypeDb {
    pub(crate) fn dwarf_file(&self) -> &DwarfFile {
        &self.file
    }
}

impl TypeDb {
    /// Memory-map `path` read-only and locate its DWARF sections. Cheap: reads only the ELF
    /// headers and the first unit header of `.debug_info`.
    pub fn open_with(path: &Path, options: OpenOptions) -> Result<TypeDb, DebugInfoError> {
        let mut file = DwarfFile::open(path)?;
        file.attach_sup(&options.debug_roots)?;
        super::split::attach_split(&mut file)?;
        Ok(TypeDb {
            file,
            arena: Arena::default(),
            index: OnceLock::new(),
            shaped: OnceLock::new(),
            early: Mutex::new(HashMap::new()),
            options,
        })
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn build_id(&self) -> Option<&[u8]> {
        self.file.build_id()
    }

    /// `.debug_info` offset of the DIE behind an id (for diagnostics).
    pub fn offset_of(&self, id: TypeId) -> Option<u64> {
        self.arena.offset(id)
    }

    /// The name index, built (or loaded from the cache) on first use.
    pub fn index(&self) -> Result<&IndexFile, DebugInfoError> {
        if let Some(Ok(ix)) = self.shaped.get() {
            return Ok(ix);
        }
        let r = self.index.get_or_init(|| self.load_or_build(false));
        r.as_ref().map_err(|e| self.file.bad(0, e.to_string()))
    }

    /// The index with definition shapes (pahole's full listing needs them).
    pub fn shaped_index(&self) -> Result<&IndexFile, DebugInfoError> {
        if let Some(Ok(ix)) = self.index.get() {
            if ix.has_shapes() {
                return Ok(ix);
            }
        }
        let r = self.shaped.get_or_init(|| self.load_or_build(true));
        r.as_ref().map_err(|e| self.file.bad(0, e.to_string()))
    }

    fn load_or_build(&self, shapes: bool) -> Result<IndexFile, DebugInfoError> {
        let o = &self.options;
        index::load_or_build(
            &self.file,
            o.cache_dir.as_deref(),
            o.progress.as_ref(),
            shapes,
        )
    }

    fn find_offset(&self, name: &str, kind: NameKind) -> Result<Option<u64>, DebugInfoError> {
        if let Some(Ok(ix)) = self.shaped.get().or(self.index.get()) {
            return Ok(ix.lookup(name, kind));
        }
        let key = (name.to_string(), kind as u8);
        if let Ok(early) = self.early.lock() {
            if let Some(hit) = early.get(&key) {
                return Ok(*hit);
            }
        }
        // A cached index answers everything; try it before scanning.
        let cached = self.options.cache_dir.as_deref();
        if let Some(ix) = cached.and_then(|dir| index::try_load_cache(&self.file, dir)) {
            self.file.set_units(ix.unit_spans());
            let _ = self.index.set(Ok(ix));
            if let Some(Ok(ix)) = self.index.get() {
                return Ok(ix.lookup(name, kind));
            }
        }
        // Names defined in the first units (task_struct, mm_struct, ...) are found by a short
        // sequential scan, as fast as pahole, without waiting for the whole index.
        if let Some(hit) = index::early_scan(&self.file, name, kind)? {
            if let Ok(mut early) = self.early.lock() {
                early.insert(key, Some(hit));
            }
            return Ok(Some(hit));
        }
        Ok(self.index()?.lookup(name, kind))
    }

    /// Parse the DIE behind `id` into a model type.
    fn parse(&self, id: TypeId) -> Result<Type, DebugInfoError> {
        let offset = self
            .arena
            .offset(id)
            .ok_or_else(|| self.file.bad(0, format!("unknown type id {id}")))?;
        let (file, offset) = self.file.file_of(offset).ok_or_else(|| {
            self.file
                .bad(offset, "no supplementary file for this offset")
        })?;
        let cx = Cx {
            file,
            tag: if std::ptr::eq(file, &self.file) {
                0
            } else {
                SUP_BIT
            },
        };
        let span = file
            .unit_for(offset)
            .ok_or_else(|| file.bad(offset, "offset outside every unit"))?;
        let header = file.unit_header(span.start)?;
        let abbrevs = file.abbreviations(&header)?;
        let unit_off = gimli::UnitOffset((offset - span.start) as usize);
        let mut tree = header
            .entries_tree(&abbrevs, Some(unit_off))
            .map_err(|e| file.bad(offset, e.to_string()))?;
        let root = tree.root().map_err(|e| file.bad(offset, e.to_string()))?;
        let die = root.entry();
        let attrs = self.die_attrs(cx, &header, die, offset)?;
        let tag = die.tag();
        let ty = match tag {
            dw::DW_TAG_base_type => Type::Base(BaseType {
                name: attrs.name.unwrap_or_default(),
                byte_size: attrs.byte_size.unwrap_or(0),
                encoding: match attrs.encoding {
                    Some(dw::DW_ATE_signed) => BaseEncoding::Signed,
                    Some(dw::DW_ATE_unsigned) => BaseEncoding::Unsigned,
                    Some(dw::DW_ATE_signed_char) => BaseEncoding::SignedChar,
                    Some(dw::DW_ATE_unsigned_char) => BaseEncoding::UnsignedChar,
                    Some(dw::DW_ATE_boolean) => BaseEncoding::Bool,
                    Some(dw::DW_ATE_float) => BaseEncoding::Float,
                    _ => BaseEncoding::Other,
                },
            }),
            dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type => {
                let c = self.composite_from(cx, &header, root, offset, attrs, tag)?;
                if tag == dw::DW_TAG_union_type {
                    Type::Union(c)
                } else {
                    Type::Struct(c)
                }
            }
            dw::DW_TAG_enumeration_type => {
                let enumerators = self
                    .children_of(cx, &header, root, offset, &[dw::DW_TAG_enumerator])?
                    .into_iter()
                    .map(|(_, a, _)| Enumerator {
                        name: a.name.unwrap_or_default(),
                        value: a.const_value.unwrap_or(0),
                    })
                    .collect();
                let signed = match attrs.ty {
                    Some(t) => matches!(
                        self.get(t).ok(),
                        Some(Type::Base(BaseType {
                            encoding: BaseEncoding::Signed | BaseEncoding::SignedChar,
                            ..
                        }))
                    ),
                    None => false,
                };
                Type::Enum(EnumType {
                    name: attrs.name,
                    byte_size: attrs.byte_size.unwrap_or(0),
                    signed,
                    enumerators,
                    declaration: attrs.declaration,
                    btf_signed_bits: 0,
                })
            }
            dw::DW_TAG_pointer_type
            | dw::DW_TAG_reference_type
            | dw::DW_TAG_rvalue_reference_type => Type::Pointer(PointerType {
                target: attrs.ty,
                byte_size: attrs.byte_size.unwrap_or(8),
            }),
            dw::DW_TAG_typedef => Type::Typedef(Typedef {
                name: attrs.name.unwrap_or_default(),
                target: attrs.ty,
            }),
            dw::DW_TAG_const_type
            | dw::DW_TAG_volatile_type
            | dw::DW_TAG_restrict_type
            | dw::DW_TAG_atomic_type => Type::Qualified(Qualified {
                qualifier: qualifier_of(tag),
                target: attrs.ty,
            }),
            dw::DW_TAG_array_type => {
                let dims = self
                    .children_of(cx, &header, root, offset, &[dw::DW_TAG_subrange_type])?
                    .into_iter()
                    .map(|(_, a, _)| match (a.count, a.upper_bound) {
                        (Some(c), _) => c,
                        (None, Some(ub)) => ub.wrapping_add(1),
                        (None, None) => 0,
                    })
                    .collect();
                Type::Array(ArrayType {
                    element: attrs.ty,
                    dims,
                    vector: attrs.vector,
                })
            }
            dw::DW_TAG_subroutine_type => {
                let mut params = Vec::new();
                let mut variadic = false;
                let tags = [
                    dw::DW_TAG_formal_parameter,
                    dw::DW_TAG_unspecified_parameters,
                ];
                for (tag, a, _) in self.children_of(cx, &header, root, offset, &tags)? {
                    if tag == dw::DW_TAG_formal_parameter {
                        params.push(Param {
                            name: a.name,
                            ty: a.ty,
                        });
                    } else {
                        variadic = true;
                    }
                }
                Type::Function(FunctionType {
                    ret: attrs.ty,
                    params,
                    variadic,
                })
            }
            other => Type::Unsupported {
                what: format!("{other}"),
            },
        };
        Ok(ty)
    }

    /// A struct, class or union: data members, types defined in the body and, for C++, base
    /// classes and static members (member functions are not part of the model).
    fn composite_from(
        &self,
        cx: Cx<'_>,
        header: &UnitHeader<Slice<'_>>,
        root: gimli::EntriesTreeNode<'_, '_, '_, Slice<'_>>,
        offset: u64,
        attrs: DieAttrs,
        tag: gimli::DwTag,
    ) -> Result<Composite, DebugInfoError> {
        let mut c = Composite {
            name: attrs.name,
            byte_size: attrs.byte_size.unwrap_or(0),
            members: Vec::new(),
            declaration: attrs.declaration,
            alignment: attrs.alignment,
            nested: Vec::new(),
            class: tag == dw::DW_TAG_class_type,
            cxx98_unit: unit_language(cx, header) == Some(dw::DW_LANG_C_plus_plus),
            bases: Vec::new(),
            statics: Vec::new(),
        };
        let tags = [
            dw::DW_TAG_member,
            dw::DW_TAG_inheritance,
            // DWARF 5: a static data member is a variable declared in the class
            dw::DW_TAG_variable,
            dw::DW_TAG_structure_type,
            dw::DW_TAG_union_type,
            dw::DW_TAG_class_type,
            // types defined inside the body (clang puts an anonymous member type there)
            // are printed where they are defined, as pahole does
            dw::DW_TAG_enumeration_type,
        ];
        for (t, a, moff) in self.children_of(cx, header, root, offset, &tags)? {
            let at = c.members.len();
            match t {
                // DWARF 4: a static data member is a member declared, not placed
                dw::DW_TAG_member | dw::DW_TAG_variable
                    if t == dw::DW_TAG_variable || a.external || a.declaration =>
                {
                    c.statics.push((
                        at,
                        StaticMember {
                            name: a.name,
                            ty: a.ty,
                            const_value: a.const_value,
                            access: a.access,
                        },
                    ))
                }
                dw::DW_TAG_member => c.members.push(self.member_from(cx, a, moff)?),
                dw::DW_TAG_inheritance => {
                    c.bases.push(BaseClass {
                        ty: a.ty,
                        is_virtual: a.is_virtual,
                        access: a.access,
                    });
                    // a virtual base's place is computed at run time: nothing to lay out
                    if !a.is_virtual {
                        let mut m = self.member_from(cx, a, moff)?;
                        m.ancestor = true;
                        c.members.push(m);
                    }
                }
                _ => c.nested.push((at, self.arena.id_for(moff | cx.tag))),
            }
        }
        Ok(c)
    }

    /// The children of `node` with one of `tags`: tag, attributes and `.debug_info` offset.
    fn children_of(
        &self,
        cx: Cx<'_>,
        header: &UnitHeader<Slice<'_>>,
        node: gimli::EntriesTreeNode<'_, '_, '_, Slice<'_>>,
        offset: u64,
        tags: &[gimli::DwTag],
    ) -> Result<Vec<(gimli::DwTag, DieAttrs, u64)>, DebugInfoError> {
        let mut out = Vec::new();
        let mut children = node.children();
        while let Some(child) = children
            .next()
            .map_err(|e| cx.file.bad(offset, e.to_string()))?
        {
            let e = child.entry();
            if !tags.contains(&e.tag()) {
                continue;
            }
            let at = e
                .offset()
                .to_debug_info_offset(header)
                .map(|o| o.0 as u64)
                .unwrap_or(offset);
            out.push((e.tag(), self.die_attrs(cx, header, e, at)?, at));
        }
        Ok(out)
    }

    fn member_from(&self, cx: Cx<'_>, a: DieAttrs, offset: u64) -> Result<Member, DebugInfoError> {
        let byte_loc = a.member_location.unwrap_or(0);
        let bit_offset = match (a.data_bit_offset, a.bitfield_size, a.bit_offset_msb) {
            (Some(dbo), _, _) => dbo,
            (None, Some(bits), Some(msb)) => {
                // DWARF 2-4: DW_AT_bit_offset counts from the storage unit's most significant
                // bit; convert to an absolute little-endian bit offset.
                let storage = match a.byte_size {
                    Some(s) => s,
                    None => match a.ty {
                        Some(t) => crate::types::model::TypeSourceExt::size_of(self, t)
                            .map_err(|e| cx.file.bad(offset, e.to_string()))?
                            .unwrap_or(0),
                        None => 0,
                    },
                };
                let lsb = (storage as i64) * 8 - msb - bits as i64;
                ((byte_loc as i64) * 8 + lsb).max(0) as u64
            }
            _ => byte_loc.saturating_mul(8),
        };
        Ok(Member {
            name: a.name,
            ty: a.ty,
            bit_offset,
            bitfield_size: a.bitfield_size,
            storage_bytes: if a.bitfield_size.is_some() {
                a.byte_size
            } else {
                None
            },
            alignment: a.alignment,
            ancestor: false,
            access: a.access,
        })
    }

    fn die_attrs(
        &self,
        cx: Cx<'_>,
        header: &UnitHeader<Slice<'_>>,
        die: &gimli::DebuggingInformationEntry<'_, '_, Slice<'_>>,
        offset: u64,
    ) -> Result<DieAttrs, DebugInfoError> {
        let mut out = DieAttrs::default();
        let mut attrs = die.attrs();
        while let Some(attr) = attrs
            .next()
            .map_err(|e| cx.file.bad(offset, e.to_string()))?
        {
            let v = attr.value();
            match attr.name() {
                dw::DW_AT_name => {
                    let base = match v {
                        AttributeValue::DebugStrOffsetsIndex(_) => {
                            let abbrevs = cx.file.abbreviations(header)?;
                            cx.file.str_base_cached(header, &abbrevs)?
                        }
                        _ => None,
                    };
                    out.name = cx
                        .file
                        .attr_str(&v, base)
                        .map(|b| String::from_utf8_lossy(b).into_owned());
                }
                dw::DW_AT_type => out.ty = self.type_ref(cx, header, &v, offset)?,
                dw::DW_AT_byte_size => out.byte_size = udata(&v),
                dw::DW_AT_bit_size => {
                    out.bitfield_size = udata(&v).and_then(|x| u32::try_from(x).ok())
                }
                dw::DW_AT_data_bit_offset => out.data_bit_offset = udata(&v),
                dw::DW_AT_bit_offset => out.bit_offset_msb = sdata(&v),
                dw::DW_AT_data_member_location => out.member_location = udata(&v),
                dw::DW_AT_declaration => out.declaration = matches!(v, AttributeValue::Flag(true)),
                dw::DW_AT_alignment => out.alignment = udata(&v),
                dw::DW_AT_encoding => {
                    if let AttributeValue::Encoding(e) = v {
                        out.encoding = Some(e);
                    }
                }
                dw::DW_AT_const_value => out.const_value = udata(&v),
                dw::DW_AT_count => out.count = udata(&v),
                dw::DW_AT_upper_bound => out.upper_bound = udata(&v),
                dw::DW_AT_GNU_vector => out.vector = matches!(v, AttributeValue::Flag(true)),
                dw::DW_AT_accessibility => {
                    out.access = match v {
                        AttributeValue::Accessibility(dw::DW_ACCESS_public) => Some(Access::Public),
                        AttributeValue::Accessibility(dw::DW_ACCESS_protected) => {
                            Some(Access::Protected)
                        }
                        AttributeValue::Accessibility(dw::DW_ACCESS_private) => {
                            Some(Access::Private)
                        }
                        _ => None,
                    }
                }
                dw::DW_AT_virtuality => {
                    out.is_virtual =
                        !matches!(v, AttributeValue::Virtuality(dw::DW_VIRTUALITY_none))
                }
                dw::DW_AT_external => out.external = matches!(v, AttributeValue::Flag(true)),
                _ => {}
            }
        }
        Ok(out)
    }

    /// The type a `DW_AT_type` names: in the same file, or (dwz) in the supplementary one.
    fn type_ref(
        &self,
        cx: Cx<'_>,
        header: &UnitHeader<Slice<'_>>,
        v: &AttributeValue<Slice<'_>>,
        offset: u64,
    ) -> Result<Option<TypeId>, DebugInfoError> {
        let global = match v {
            AttributeValue::UnitRef(u) => match u.to_debug_info_offset(header) {
                Some(o) => o.0 as u64 | cx.tag,
                None => return Ok(None),
            },
            AttributeValue::DebugInfoRef(d) => d.0 as u64 | cx.tag,
            AttributeValue::DebugInfoRefSup(d) if cx.tag == 0 && self.file.sup().is_some() => {
                d.0 as u64 | SUP_BIT
            }
            AttributeValue::DebugInfoRefSup(d) => {
                return Err(cx.file.bad(
                    offset,
                    format!("type at {:#x} of a supplementary file it has none of", d.0),
                ))
            }
            _ => return Ok(None),
        };
        Ok(Some(self.arena.id_for(global)))
    }
}

/// The file a DIE being parsed lies in, and the tag its offsets carry ([`SUP_BIT`] or 0).
#[derive(Clone, Copy)]
struct Cx<'a> {
    file: &'a DwarfFile,
    tag: u64,
}

/// Numeric attribute value as pahole reads it: fixed-size data zero-extended, sdata
/// sign-extended into 64 bits.
fn udata(v: &AttributeValue<Slice<'_>>) -> Option<u64> {
    match *v {
        AttributeValue::Data1(x) => Some(x as u64),
        AttributeValue::Data2(x) => Some(x as u64),
        AttributeValue::Data4(x) => Some(x as u64),
        AttributeValue::Data8(x) => Some(x),
        AttributeValue::Sdata(x) => Some(x as u64),
        AttributeValue::Udata(x) => Some(x),
        _ => None,
    }
}

/// The `DW_AT_language` of the unit `header` starts; `None` if unreadable or absent.
fn unit_language(cx: Cx<'_>, header: &UnitHeader<Slice<'_>>) -> Option<gimli::DwLang> {
    let abbrevs = cx.file.abbreviations(header).ok()?;
    let mut cursor = header.entries(&abbrevs);
    let (_, root) = cursor.next_dfs().ok()??;
    match root.attr_value(dw::DW_AT_language).ok()?? {
        AttributeValue::Language(l) => Some(l),
        _ => None,
    }
}

/// Numeric attribute value read as signed (DW_AT_bit_offset may be negative).
fn sdata(v: &AttributeValue<Slice<'_>>) -> Option<i64> {
    match *v {
        AttributeValue::Data1(x) => Some(x as i8 as i64),
        AttributeValue::Data2(x) => Some(x as i16 as i64),
        AttributeValue::Data4(x) => Some(x as i32 as i64),
        AttributeValue::Data8(x) => Some(x as i64),
        AttributeValue::Sdata(x) => Some(x),
        AttributeValue::Udata(x) => Some(x as i64),
        _ => None,
    }
}

#[derive(Default)]
struct DieAttrs {
    name: Option<String>,
    ty: Option<TypeId>,
    byte_size: Option<u64>,
    bitfield_size: Option<u32>,
    data_bit_offset: Option<u64>,
    bit_offset_msb: Option<i64>,
    member_location: Option<u64>,
    declaration: bool,
    alignment: Option<u64>,
    encoding: Option<gimli::DwAte>,
    const_value: Option<u64>,
    count: Option<u64>,
    upper_bound: Option<u64>,
    vector: bool,
    /// C++: `DW_AT_accessibility`, `DW_AT_virtuality`, `DW_AT_external`.
    access: Option<Access>,
    is_virtual: bool,
    external: bool,
}

impl TypeSource for TypeDb {
    fn get(&self, id: TypeId) -> Result<&Type, TypeError> {
        let slot = self.arena.slot(id).ok_or(TypeError::BadId(id))?;
        if let Some(done) = slot.ty.get() {
            return done.as_ref().map_err(|e| TypeError::Source(e.clone()));
        }
        // Parsing one type may look at another (a bitfield's storage size); a corrupt file could
        // make that loop back to the type being parsed, which must fail, not deadlock.
        let reentrant = IN_PROGRESS.with(|p| p.borrow().contains(&id.0));
        if reentrant {
            return Err(TypeError::Cycle(id));
        }
        IN_PROGRESS.with(|p| p.borrow_mut().push(id.0));
        let parsed = self.parse(id).map_err(|e| e.to_string());
        IN_PROGRESS.with(|p| p.borrow_mut().retain(|x| *x != id.0));
        slot.ty
            .get_or_init(|| parsed)
            .as_ref()
            .map_err(|e| TypeError::Source(e.clone()))
    }

    fn find(&self, name: &str, kind: NameKind) -> Result<Option<TypeId>, TypeError> {
        let off = self
            .find_offset(name, kind)
            .map_err(|e| TypeError::Source(e.to_string()))?;
        Ok(off.map(|o| self.arena.id_for(o)))
    }

    fn variable_type(&self, name: &str) -> Result<Option<TypeId>, TypeError> {
        let off = super::vars::variable_type_offset(&self.file, name)
            .map_err(|e| TypeError::Source(e.to_string()))?;
        Ok(off.map(|o| self.arena.id_for(o)))
    }

    fn has_alignment_info(&self) -> bool {
        true
    }

    fn composite_names(&self) -> Result<Vec<String>, TypeError> {
        let ix = self
            .shaped_index()
            .map_err(|e| TypeError::Source(e.to_string()))?;
        Ok(ix
            .composites_in_order()
            .into_iter()
            .map(|(n, _)| n)
            .collect())
    }

    fn composites(&self) -> Result<Vec<(String, TypeId)>, TypeError> {
        let ix = self
            .shaped_index()
            .map_err(|e| TypeError::Source(e.to_string()))?;
        Ok(ix
            .composites_in_order()
            .into_iter()
            .map(|(n, o)| (n, self.arena.id_for(o)))
            .collect())
    }

    fn all_type_names(&self) -> Result<Vec<String>, TypeError> {
        let ix = self.index().map_err(|e| TypeError::Source(e.to_string()))?;
        Ok(ix.all_names().map(str::to_string).collect())
    }

    fn definition_order(&self, id: TypeId) -> u64 {
        let Some(off) = self.arena.offset(id) else {
            return u64::MAX;
        };
        // index of the unit holding the DIE
        let Ok(units) = self.file.units() else {
            return u64::MAX;
        };
        if off & SUP_BIT != 0 {
            // dwz: the supplementary file's units come after the file's own
            return units.len() as u64;
        }
        (units.partition_point(|u| u.start <= off) as u64).saturating_sub(1)
    }

    fn find_from(
        &self,
        name: &str,
        kind: NameKind,
        from: u64,
    ) -> Result<Option<TypeId>, TypeError> {
        if let Some(id) = self.find(name, kind)? {
            if self.definition_order(id) >= from {
                return Ok(Some(id));
            }
        } else {
            return Ok(None);
        }
        let from = usize::try_from(from).unwrap_or(usize::MAX);
        let hit = index::scan_from(&self.file, name, kind, from)
            .map_err(|e| TypeError::Source(e.to_string()))?;
        Ok(hit.map(|(_, off)| self.arena.id_for(off)))
    }
}

thread_local! {
    static IN_PROGRESS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Append-only store of lazily parsed types, addressed by dense ids. Buckets double in size so
/// that references handed out by `get` stay valid while new ids are added (no unsafe code).
#[derive(Default)]
struct Arena {
    ids: Mutex<HashMap<u64, u32>>,
    next: AtomicU32,
    buckets: [OnceLock<Box<[Slot]>>; BUCKETS],
}

const BUCKETS: usize = 24;
const FIRST_BUCKET_BITS: u32 = 8;

#[derive(Default)]
struct Slot {
    offset: OnceLock<u64>,
    ty: OnceLock<Result<Type, String>>,
}

fn bucket_of(id: u32) -> (usize, usize) {
    let n = id as u64 + (1u64 << FIRST_BUCKET_BITS);
    let b = 63 - n.leading_zeros();
    let bucket = (b - FIRST_BUCKET_BITS) as usize;
    (bucket, (n - (1u64 << b)) as usize)
}

impl Arena {
    fn id_for(&self, offset: u64) -> TypeId {
        let mut ids = match self.ids.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(id) = ids.get(&offset) {
            return TypeId(*id);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (b, i) = bucket_of(id);
        if let Some(bucket) = self.buckets.get(b) {
            let slots = bucket.get_or_init(|| {
                let size = 1usize << (b as u32 + FIRST_BUCKET_BITS);
                (0..size).map(|_| Slot::default()).collect()
            });
            if let Some(slot) = slots.get(i) {
                let _ = slot.offset.set(offset);
            }
        }
        ids.insert(offset, id);
        TypeId(id)
    }

    fn slot(&self, id: TypeId) -> Option<&Slot> {
        let (b, i) = bucket_of(id.0);
        let slot = self.buckets.get(b)?.get()?.get(i)?;
        slot.offset.get()?;
        Some(slot)
    }

    fn offset(&self, id: TypeId) -> Option<u64> {
        self.slot(id).and_then(|s| s.offset.get().copied())
    }
}

/// The qualifier a `DW_TAG_*_type` qualifier tag stands for.
fn qualifier_of(tag: gimli::DwTag) -> Qualifier {
    match tag {
        dw::DW_TAG_const_type => Qualifier::Const,
        dw::DW_TAG_volatile_type => Qualifier::Volatile,
        dw::DW_TAG_restrict_type => Qualifier::Restrict,
        _ => Qualifier::Atomic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_math_is_dense_and_monotonic() {
        assert_eq!(bucket_of(0), (0, 0));
        assert_eq!(bucket_of(255), (0, 255));
        assert_eq!(bucket_of(256), (1, 0));
        assert_eq!(bucket_of(767), (1, 511));
        assert_eq!(bucket_of(768), (2, 0));
    }

    #[test]
    fn arena_reuses_ids_per_offset() {
        let a = Arena::default();
        let x = a.id_for(0x1234);
        let y = a.id_for(0x5678);
        assert_ne!(x, y);
        assert_eq!(a.id_for(0x1234), x);
        assert_eq!(a.offset(y), Some(0x5678));
        for i in 0..1000u64 {
            a.id_for(0x10000 + i);
        }
        assert_eq!(a.offset(x), Some(0x1234));
    }
}
