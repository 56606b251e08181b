//! BTF as a [`TypeSource`]: types are converted into the model on first `get`, one id at
//! a time, so a lookup of one struct touches only that struct and what it refers to.
//!
//! Conversion follows what pahole 1.24's BTF loader builds, so that the printer gives
//! `pahole -F btf` output: alignments are inferred (see `align_infer`), ENUM values
//! are unsigned 32-bit, and TYPE_TAG (which pahole 1.24 cannot read) is skipped as the
//! transparent annotation it is.

use super::align_infer::{AlignmentInference, CompositePlacement};
use super::{Btf, BtfError, BtfKind, BtfType};
use crate::types::model::{
    ArrayType, BaseEncoding, BaseType, Composite, EnumType, Enumerator, FunctionType, Member,
    NameKind, Param, PointerType, Qualified, Qualifier, Type, TypeError, TypeId, TypeSource,
    Typedef, MAX_CHAIN,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// After this many lookups by name, one hash index replaces the per-lookup scan
/// (a full dump looks up thousands of names; a single lookup should not pay for an index).
const SCANS_BEFORE_INDEX: u32 = 8;

/// Cacheline size pahole assumes when the CPU does not report one.
pub const DEFAULT_CACHELINE: u32 = 64;

/// A BTF blob seen through the type model.
pub struct BtfDb {
    btf: Btf,
    /// Converted types, by BTF id (index 0, void, stays empty).
    types: Vec<OnceLock<Box<Type>>>,
    inference: Mutex<InferenceCache>,
    lookups: AtomicU32,
    /// Named struct, union, enum and typedef ids by name; built on demand.
    name_index: OnceLock<NameIndex>,
}

/// Named struct, union, enum and typedef ids sorted by (hash of the name, id): a lookup
/// checks each candidate's name in the string section, so no name is copied.
struct NameIndex(Vec<(u64, u32, BtfKind)>);

fn name_hash(name: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name)
}

/// Hasher for maps keyed by type id: ids are dense small integers, so a multiplicative
/// hash spreads them well at a fraction of SipHash's cost.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IdMap<V> = HashMap<u32, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Which (type id, entered) pairs a reachability check has visited: two bits per id.
#[derive(Default)]
struct Visited(Vec<u8>);

impl Visited {
    /// Mark (id, enter); false when already marked.
    fn insert(&mut self, id: u32, enter: bool, type_count: u32) -> bool {
        if self.0.is_empty() {
            self.0 = vec![0; type_count as usize];
        }
        let bit = if enter { 2 } else { 1 };
        match self.0.get_mut(id as usize) {
            Some(flags) if *flags & bit == 0 => {
                *flags |= bit;
                true
            }
            _ => false,
        }
    }
}

/// Natural alignments memoised across conversions (pahole caches them per type too),
/// and placements computed by a lookup's check, kept for the conversion that follows.
struct InferenceCache {
    cacheline_size: u32,
    natural: Vec<u32>,
    placements: IdMap<CompositePlacement>,
}

impl BtfDb {
    /// Open raw BTF or an ELF's `.BTF`. `cacheline_size` is the one layout output uses
    /// (pahole infers `__aligned__(cacheline)` from it).
    pub fn open(path: &Path, cacheline_size: u32) -> Result<BtfDb, BtfError> {
        Ok(BtfDb::new(Btf::open(path)?, cacheline_size))
    }

    /// Open split BTF (a module's) on its base; see [`Btf::open_split`].
    pub fn open_split(path: &Path, base: &Path, cacheline_size: u32) -> Result<BtfDb, BtfError> {
        Ok(BtfDb::new(Btf::open_split(path, base)?, cacheline_size))
    }

    pub fn new(btf: Btf, cacheline_size: u32) -> BtfDb {
        let types = (0..btf.type_count()).map(|_| OnceLock::new()).collect();
        let cacheline_size = if cacheline_size == 0 {
            DEFAULT_CACHELINE
        } else {
            cacheline_size
        };
        BtfDb {
            btf,
            types,
            inference: Mutex::new(InferenceCache {
                cacheline_size,
                natural: Vec::new(),
                placements: IdMap::default(),
            }),
            lookups: AtomicU32::new(0),
            name_index: OnceLock::new(),
        }
    }

    /// The raw BTF underneath.
    pub fn btf(&self) -> &Btf {
        &self.btf
    }

    fn source_error(&self, e: BtfError) -> TypeError {
        TypeError::Source(self.btf.with_origin(e).to_string())
    }

    fn name(&self, name_off: u32) -> Result<Option<String>, BtfError> {
        let name = self.btf.name(name_off)?;
        Ok((!name.is_empty()).then(|| name.to_string()))
    }

    /// A reference to another type: void is None, TYPE_TAGs are looked through.
    fn type_ref(&self, id: u32) -> Result<Option<TypeId>, BtfError> {
        let mut id = id;
        for _ in 0..MAX_CHAIN {
            if id == 0 {
                return Ok(None);
            }
            // Most references are not TYPE_TAGs: look at the kind alone before decoding.
            if self.btf.kind_of(id)? != BtfKind::TypeTag {
                return Ok(Some(TypeId(id)));
            }
            id = self.btf.type_by_id(id)?.size_or_type;
        }
        Err(BtfError::Cycle {
            id,
            limit: MAX_CHAIN,
            offset: 0,
        })
    }

    fn convert(&self, ty: &BtfType<'_>) -> Result<Type, BtfError> {
        let btf = &self.btf;
        Ok(match ty.kind {
            BtfKind::Int => {
                let int = ty.int().unwrap_or(super::BtfInt {
                    signed: false,
                    char: false,
                    bool: false,
                    bit_offset: 0,
                    bits: 0,
                });
                let name = btf.name(ty.name_off)?;
                // pahole leaves BTF_INT_CHAR off: `char` is a plain 8-bit int by name.
                let char_name = matches!(name, "char" | "signed char" | "unsigned char");
                let encoding = match (int.bool, int.char || char_name, int.signed) {
                    (true, _, _) => BaseEncoding::Bool,
                    (_, true, true) => BaseEncoding::SignedChar,
                    (_, true, false) => BaseEncoding::UnsignedChar,
                    (_, _, true) => BaseEncoding::Signed,
                    _ => BaseEncoding::Unsigned,
                };
                // pahole sizes a BTF int by its bit count.
                Type::Base(BaseType {
                    name: name.to_string(),
                    byte_size: u64::from(int.bits) / 8,
                    encoding,
                })
            }
            BtfKind::Float => Type::Base(BaseType {
                name: btf.name(ty.name_off)?.to_string(),
                byte_size: u64::from(ty.size_or_type),
                encoding: BaseEncoding::Float,
            }),
            BtfKind::Ptr => Type::Pointer(PointerType {
                target: self.type_ref(ty.size_or_type)?,
                byte_size: u64::from(btf.pointer_size()),
            }),
            BtfKind::Array => self.convert_array(ty)?,
            BtfKind::Struct | BtfKind::Union => {
                let placement = self.place(ty.id)?;
                let composite = self.convert_composite(ty, &placement)?;
                if ty.kind == BtfKind::Struct {
                    Type::Struct(composite)
                } else {
                    Type::Union(composite)
                }
            }
            BtfKind::Fwd => {
                let composite = Composite {
                    name: self.name(ty.name_off)?,
                    byte_size: 0,
                    members: Vec::new(),
                    declaration: true,
                    alignment: None,
                    nested: Vec::new(),
                    class: false,
                    cxx98_unit: false,
                    bases: Vec::new(),
                    statics: Vec::new(),
                };
                if ty.kind_flag {
                    Type::Union(composite)
                } else {
                    Type::Struct(composite)
                }
            }
            BtfKind::Enum | BtfKind::Enum64 => {
                let mut enumerators = Vec::with_capacity(ty.vlen as usize);
                for e in ty.enumerators() {
                    // pahole 1.24 keeps a 32-bit enumerator as unsigned and prints it so.
                    let value = if ty.kind == BtfKind::Enum {
                        e.value & 0xffff_ffff
                    } else {
                        e.value
                    };
                    enumerators.push(Enumerator {
                        name: btf.name(e.name_off)?.to_string(),
                        value,
                    });
                }
                Type::Enum(EnumType {
                    name: self.name(ty.name_off)?,
                    byte_size: if ty.size_or_type == 0 {
                        4
                    } else {
                        u64::from(ty.size_or_type)
                    },
                    signed: false,
                    enumerators,
                    declaration: false,
                    btf_signed_bits: match (ty.kind_flag, ty.kind) {
                        (false, _) => 0,
                        (true, BtfKind::Enum) => 32,
                        (true, _) => 64,
                    },
                })
            }
            BtfKind::Typedef => Type::Typedef(Typedef {
                name: btf.name(ty.name_off)?.to_string(),
                target: self.type_ref(ty.size_or_type)?,
            }),
            BtfKind::Const | BtfKind::Volatile | BtfKind::Restrict => Type::Qualified(Qualified {
                qualifier: match ty.kind {
                    BtfKind::Const => Qualifier::Const,
                    BtfKind::Volatile => Qualifier::Volatile,
                    _ => Qualifier::Restrict,
                },
                target: self.type_ref(ty.size_or_type)?,
            }),
            // Only reached when asked for the tag's own id; references skip it.
            BtfKind::TypeTag => match self.type_ref(ty.size_or_type)? {
                Some(t) => Type::Typedef(Typedef {
                    name: btf.name(ty.name_off)?.to_string(),
                    target: Some(t),
                }),
                None => Type::Unsupported {
                    what: "type tag on void".into(),
                },
            },
            BtfKind::FuncProto => {
                let mut params = Vec::with_capacity(ty.vlen as usize);
                let mut variadic = false;
                let n = ty.vlen as usize;
                for (i, p) in ty.params().enumerate() {
                    if p.type_id == 0 && i + 1 == n {
                        variadic = true;
                        continue;
                    }
                    params.push(Param {
                        name: self.name(p.name_off)?,
                        ty: self.type_ref(p.type_id)?,
                    });
                }
                Type::Function(FunctionType {
                    ret: self.type_ref(ty.size_or_type)?,
                    params,
                    variadic,
                })
            }
            BtfKind::Func => Type::Unsupported {
                what: format!("BTF function {}", btf.name(ty.name_off)?),
            },
            BtfKind::Var => Type::Unsupported {
                what: format!("BTF variable {}", btf.name(ty.name_off)?),
            },
            BtfKind::Datasec => Type::Unsupported {
                what: format!("BTF data section {}", btf.name(ty.name_off)?),
            },
            BtfKind::DeclTag => Type::Unsupported {
                what: format!("BTF declaration tag {}", btf.name(ty.name_off)?),
            },
        })
    }

    /// BTF nests the dimensions of `int a[2][3]` as arrays of arrays; the model keeps
    /// them in one list, outermost first. (pahole -J flattens them to `a[6]` itself.)
    fn convert_array(&self, ty: &BtfType<'_>) -> Result<Type, BtfError> {
        let mut dims = Vec::new();
        let mut cur = *ty;
        for _ in 0..MAX_CHAIN {
            let Some(a) = cur.array() else { break };
            dims.push(u64::from(a.nelems));
            match a.elem_type {
                0 => {
                    return Ok(Type::Array(ArrayType {
                        element: None,
                        dims,
                        vector: false,
                    }))
                }
                elem => {
                    let next = self.btf.type_by_id(elem)?;
                    if next.kind != BtfKind::Array {
                        return Ok(Type::Array(ArrayType {
                            element: self.type_ref(elem)?,
                            dims,
                            vector: false,
                        }));
                    }
                    cur = next;
                }
            }
        }
        Err(BtfError::Cycle {
            id: ty.id,
            limit: MAX_CHAIN,
            offset: ty.offset,
        })
    }

    /// The placement of struct/union `id`, taken from the cache when a check computed it.
    fn place(&self, id: u32) -> Result<CompositePlacement, BtfError> {
        let mut cache = self
            .inference
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(p) = cache.placements.remove(&id) {
            return Ok(p);
        }
        Self::place_locked(&self.btf, &mut cache, id)
    }

    /// Compute the placement of `id` and keep it for its conversion.
    fn check_place(&self, id: u32) -> Result<(), BtfError> {
        let mut cache = self
            .inference
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !cache.placements.contains_key(&id) {
            let p = Self::place_locked(&self.btf, &mut cache, id)?;
            cache.placements.insert(id, p);
        }
        Ok(())
    }

    fn place_locked(
        btf: &Btf,
        cache: &mut InferenceCache,
        id: u32,
    ) -> Result<CompositePlacement, BtfError> {
        let memo = std::mem::take(&mut cache.natural);
        let mut inference = AlignmentInference::with_memo(btf, cache.cacheline_size, memo);
        let result = inference.place(id);
        cache.natural = inference.into_memo();
        result
    }

    fn convert_composite(
        &self,
        ty: &BtfType<'_>,
        placement: &CompositePlacement,
    ) -> Result<Composite, BtfError> {
        let mut members = Vec::with_capacity(ty.vlen as usize);
        for (m, place) in ty.members().zip(placement.members.iter()) {
            members.push(Member {
                name: self.name(m.name_off)?,
                ty: self.type_ref(m.type_id)?,
                bit_offset: u64::from(m.bit_offset),
                bitfield_size: (m.bitfield_size != 0).then_some(u32::from(m.bitfield_size)),
                storage_bytes: None,
                alignment: (place.alignment != 0).then_some(u64::from(place.alignment)),
                ancestor: false,
                access: None,
            });
        }
        Ok(Composite {
            name: self.name(ty.name_off)?,
            byte_size: u64::from(ty.size_or_type),
            members,
            declaration: false,
            alignment: (placement.alignment != 0).then_some(u64::from(placement.alignment)),
            nested: Vec::new(),
            class: false,
            cxx98_unit: false,
            bases: Vec::new(),
            statics: Vec::new(),
        })
    }

    /// Check that `root` and every type its layout depends on will convert, so that corrupt
    /// BTF (a typedef cycle, a struct containing itself) is an error at lookup rather than
    /// a bad printout.
    /// Values (members, array elements, typedef and qualifier targets) are followed fully;
    /// pointer and function targets are converted but not entered, which keeps the walk to
    /// the few hundred types a struct embeds instead of the whole kernel.
    /// `seen` may be shared across calls to check several roots in one pass.
    fn check_reachable(&self, root: u32, seen: &mut Visited) -> Result<(), BtfError> {
        let mut stack = vec![(root, true)];
        while let Some((id, enter)) = stack.pop() {
            // Each (id, enter) pair is visited once, so the walk is bounded by 2 x type count.
            if id == 0 || !seen.insert(id, enter, self.btf.type_count()) {
                continue;
            }
            // What converting `id` could fail on, checked without building it (the
            // conversion itself happens when the printer asks, possibly in parallel):
            // typedef/modifier/TYPE_TAG chains, array chains, and for a struct or union
            // the placement pass (natural alignments, member sizes).
            self.btf.strip_typedefs_and_modifiers(id)?;
            self.btf.type_size(id)?;
            let ty = self.btf.type_by_id(id)?;
            let converted = self
                .types
                .get(id as usize)
                .is_some_and(|slot| slot.get().is_some());
            if matches!(ty.kind, BtfKind::Struct | BtfKind::Union) && !converted {
                self.check_place(id)?;
            }
            if !enter {
                continue;
            }
            match ty.kind {
                BtfKind::Ptr | BtfKind::FuncProto => {
                    if let Some(t) = ty.target() {
                        stack.push((t, false));
                    }
                    for p in ty.params() {
                        stack.push((p.type_id, false));
                    }
                }
                _ => {
                    if let Some(t) = ty.target() {
                        stack.push((t, true));
                    }
                    if let Some(a) = ty.array() {
                        stack.push((a.elem_type, true));
                    }
                    for m in ty.members() {
                        stack.push((m.type_id, true));
                    }
                }
            }
        }
        Ok(())
    }

    /// pahole's `type__compare` == 0 for two BTF structs/unions of the same name.
    fn same_shape(&self, a: &BtfType<'_>, b: &BtfType<'_>) -> Result<bool, BtfError> {
        if a.size_or_type != b.size_or_type || a.vlen != b.vlen {
            return Ok(false);
        }
        for (ma, mb) in a.members().zip(b.members()) {
            let named_differently = ma.name_off != 0
                && mb.name_off != 0
                && self.btf.name(ma.name_off)? != self.btf.name(mb.name_off)?;
            if named_differently
                || ma.bit_offset != mb.bit_offset
                || ma.bitfield_size != mb.bitfield_size
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn build_name_index(&self) -> NameIndex {
        let btf = &self.btf;
        let r = btf.reader();
        let mut v = Vec::new();
        // Record heads only (name and kind words): the records were checked at open.
        for (id, &off) in btf.record_offsets.iter().enumerate().skip(1) {
            let off = off as usize;
            let (Some(name_off), Some(info)) = (r.get_u32(off), r.get_u32(off + 4)) else {
                continue;
            };
            let Some(kind) = BtfKind::from_raw((info >> 24) & 0x1f) else {
                continue;
            };
            let indexed = matches!(
                kind,
                BtfKind::Struct
                    | BtfKind::Union
                    | BtfKind::Enum
                    | BtfKind::Enum64
                    | BtfKind::Typedef
            );
            if !indexed || name_off == 0 {
                continue;
            }
            if let Some(name) = btf.name_bytes(name_off) {
                v.push((name_hash(name), id as u32, kind));
            }
        }
        v.sort_unstable_by_key(|&(h, id, _)| (h, id));
        NameIndex(v)
    }

    /// The first id (in id order) named `name` whose kind is one of `kinds`, from the index.
    fn indexed(&self, index: &NameIndex, name: &str, kinds: &[BtfKind]) -> Option<u32> {
        let h = name_hash(name.as_bytes());
        let from = index.0.partition_point(|&(x, _, _)| x < h);
        index.0[from..]
            .iter()
            .take_while(|&&(x, _, _)| x == h)
            .filter(|(_, _, k)| kinds.contains(k))
            .map(|&(_, id, _)| id)
            .find(|&id| {
                let name_off = self
                    .btf
                    .reader()
                    .get_u32(self.btf.record_offsets[id as usize] as usize);
                name_off.and_then(|o| self.btf.name_bytes(o)) == Some(name.as_bytes())
            })
    }

    fn kinds_for(kind: NameKind) -> &'static [BtfKind] {
        match kind {
            NameKind::Composite => &[BtfKind::Struct, BtfKind::Union],
            NameKind::Struct => &[BtfKind::Struct],
            NameKind::Union => &[BtfKind::Union],
            NameKind::Enum => &[BtfKind::Enum, BtfKind::Enum64],
            NameKind::Typedef => &[BtfKind::Typedef],
            // pahole -C: the first struct, union, typedef or enum of that name (not a FWD).
            NameKind::Any => &[
                BtfKind::Struct,
                BtfKind::Union,
                BtfKind::Typedef,
                BtfKind::Enum,
                BtfKind::Enum64,
            ],
        }
    }
}

impl TypeSource for BtfDb {
    fn get(&self, id: TypeId) -> Result<&Type, TypeError> {
        let slot = self
            .types
            .get(id.0 as usize)
            .filter(|_| id.0 != 0)
            .ok_or(TypeError::BadId(id))?;
        if let Some(t) = slot.get() {
            return Ok(t);
        }
        let ty = self
            .btf
            .type_by_id(id.0)
            .map_err(|e| self.source_error(e))?;
        let converted = self.convert(&ty).map_err(|e| self.source_error(e))?;
        Ok(slot.get_or_init(|| Box::new(converted)))
    }

    /// The first definition, checked: everything printing it needs converts without error.
    /// BTF records per-CPU variables only (VAR kinds); other globals are untyped here.
    fn variable_type(&self, name: &str) -> Result<Option<TypeId>, TypeError> {
        let Some(var) = self.btf.find_first_by_name(name, &[BtfKind::Var]) else {
            return Ok(None);
        };
        let t = self
            .btf
            .type_by_id(var)
            .map_err(|e| self.source_error(e))?
            .size_or_type;
        self.check_reachable(t, &mut Default::default())
            .map_err(|e| self.source_error(e))?;
        Ok(Some(TypeId(t)))
    }

    fn find(&self, name: &str, kind: NameKind) -> Result<Option<TypeId>, TypeError> {
        let kinds = Self::kinds_for(kind);
        let found = if self.name_index.get().is_none()
            && self.lookups.fetch_add(1, Ordering::Relaxed) < SCANS_BEFORE_INDEX
        {
            self.btf.find_first_by_name(name, kinds)
        } else {
            let index = self.name_index.get_or_init(|| self.build_name_index());
            self.indexed(index, name, kinds)
        };
        match found {
            Some(id) => {
                self.check_reachable(id, &mut Default::default())
                    .map_err(|e| self.source_error(e))?;
                Ok(Some(TypeId(id)))
            }
            None => Ok(None),
        }
    }

    fn find_base(&self, name: &str) -> Result<Option<TypeId>, TypeError> {
        match self
            .btf
            .find_first_by_name(name, &[BtfKind::Int, BtfKind::Float])
        {
            Some(id) => Ok(Some(TypeId(id))),
            None => self.find(name, NameKind::Any),
        }
    }

    fn all_type_names(&self) -> Result<Vec<String>, TypeError> {
        let index = self.name_index.get_or_init(|| self.build_name_index());
        let mut names: Vec<String> = index
            .0
            .iter()
            .filter_map(|&(_, id, _)| {
                let off = self
                    .btf
                    .reader()
                    .get_u32(self.btf.record_offsets[id as usize] as usize)?;
                self.btf.name(off).ok().map(str::to_string)
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    fn pointer_size(&self) -> u64 {
        u64::from(self.btf.pointer_size())
    }

    fn has_alignment_info(&self) -> bool {
        false
    }

    fn array_dimensions_nested(&self) -> bool {
        true
    }

    /// pahole's full listing from BTF: every named struct and union in id order, a name
    /// repeated only for a different shape (size, member count, member names where both
    /// have one, bit offsets, bitfield widths), as pahole's `structures__add` decides.
    fn composites(&self) -> Result<Vec<(String, TypeId)>, TypeError> {
        let err = |e| self.source_error(e);
        let mut kept: HashMap<&str, Vec<u32>> = HashMap::new();
        let mut out = Vec::new();
        let mut seen = Default::default();
        for ty in self.btf.types() {
            let ty = ty.map_err(err)?;
            if !matches!(ty.kind, BtfKind::Struct | BtfKind::Union) || ty.name_off == 0 {
                continue;
            }
            let name = self.btf.name(ty.name_off).map_err(err)?;
            let defs = kept.entry(name).or_default();
            let mut duplicate = false;
            for &other in defs.iter() {
                if self
                    .same_shape(&ty, &self.btf.type_by_id(other).map_err(err)?)
                    .map_err(err)?
                {
                    duplicate = true;
                    break;
                }
            }
            if duplicate {
                continue;
            }
            defs.push(ty.id);
            self.check_reachable(ty.id, &mut seen).map_err(err)?;
            out.push((name.to_string(), TypeId(ty.id)));
        }
        Ok(out)
    }

    fn composite_names(&self) -> Result<Vec<String>, TypeError> {
        let mut seen = std::collections::HashSet::new();
        let mut names = Vec::new();
        for ty in self.btf.types() {
            let ty = ty.map_err(|e| self.source_error(e))?;
            if matches!(ty.kind, BtfKind::Struct | BtfKind::Union) && ty.name_off != 0 {
                let name = self
                    .btf
                    .name(ty.name_off)
                    .map_err(|e| self.source_error(e))?;
                if seen.insert(name) {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }
}
