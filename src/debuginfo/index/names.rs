//! The name index in memory, as the scan builds it: for each name its first definition in
//! unit order, per namespace (what `pahole -C` and pahole's full listing look up).

use rustc_hash::FxHashMap;

use gimli::constants as dw;

use crate::types::model::NameKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Struct = 0,
    Union = 1,
    Enum = 2,
    Typedef = 3,
    Base = 4,
}

impl Kind {
    pub(super) fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            0 => Kind::Struct,
            1 => Kind::Union,
            2 => Kind::Enum,
            3 => Kind::Typedef,
            4 => Kind::Base,
            _ => return None,
        })
    }

    pub(super) fn of_tag(tag: gimli::DwTag) -> Option<Kind> {
        Some(match tag {
            dw::DW_TAG_structure_type | dw::DW_TAG_class_type => Kind::Struct,
            dw::DW_TAG_union_type => Kind::Union,
            dw::DW_TAG_enumeration_type => Kind::Enum,
            dw::DW_TAG_typedef => Kind::Typedef,
            dw::DW_TAG_base_type => Kind::Base,
            _ => return None,
        })
    }

    pub(super) fn matches(self, want: NameKind) -> bool {
        match want {
            NameKind::Any => true,
            NameKind::Composite => matches!(self, Kind::Struct | Kind::Union),
            NameKind::Struct => self == Kind::Struct,
            NameKind::Union => self == Kind::Union,
            NameKind::Enum => self == Kind::Enum,
            NameKind::Typedef => self == Kind::Typedef,
        }
    }
}

/// First definition of each name, per namespace.
#[derive(Default, Debug, PartialEq)]
pub struct NameIndex {
    /// any kind (what `pahole -C` finds first)
    pub(super) any: FxHashMap<Box<str>, (u64, Kind)>,
    /// structs and unions share a namespace in pahole's full dump
    pub(super) composite: FxHashMap<Box<str>, (u64, Kind)>,
    pub(super) enums: FxHashMap<Box<str>, u64>,
    pub(super) typedefs: FxHashMap<Box<str>, u64>,
    /// whether `composite_top` carries definition shapes (needed only for the full listing)
    pub(super) has_shapes: bool,
    /// structs and unions defined at unit level: what pahole's full dump lists. It skips
    /// types local to functions (which `-C` still finds) and prints a name again for each
    /// definition of a different shape (size, members, member offsets), in unit order.
    pub(super) composite_top: FxHashMap<Box<str>, Vec<(u64, u64)>>,
}

impl NameIndex {
    /// Append the definitions of a later group of units (first definition wins).
    pub(super) fn merge(&mut self, later: NameIndex) {
        for (k, v) in later.any {
            self.any.entry(k).or_insert(v);
        }
        for (k, v) in later.composite {
            self.composite.entry(k).or_insert(v);
        }
        for (k, v) in later.enums {
            self.enums.entry(k).or_insert(v);
        }
        for (k, v) in later.typedefs {
            self.typedefs.entry(k).or_insert(v);
        }
        for (k, defs) in later.composite_top {
            match self.composite_top.get_mut(&k) {
                Some(mine) => {
                    for d in defs {
                        if !mine.iter().any(|m| m.1 == d.1) {
                            mine.push(d);
                        }
                    }
                }
                None => {
                    self.composite_top.insert(k, defs);
                }
            }
        }
    }

    pub(super) fn insert(&mut self, name: &str, kind: Kind, off: u64, top: Option<u64>) {
        if let (Some(shape), Kind::Struct | Kind::Union) = (top, kind) {
            match self.composite_top.get_mut(name) {
                Some(defs) => {
                    if !defs.iter().any(|d| d.1 == shape) {
                        defs.push((off, shape));
                    }
                }
                None => {
                    self.composite_top.insert(name.into(), vec![(off, shape)]);
                }
            }
        }
        if !self.any.contains_key(name) {
            self.any.insert(name.into(), (off, kind));
        }
        match kind {
            Kind::Struct | Kind::Union => {
                if !self.composite.contains_key(name) {
                    self.composite.insert(name.into(), (off, kind));
                }
            }
            Kind::Enum => {
                if !self.enums.contains_key(name) {
                    self.enums.insert(name.into(), off);
                }
            }
            Kind::Typedef => {
                if !self.typedefs.contains_key(name) {
                    self.typedefs.insert(name.into(), off);
                }
            }
            Kind::Base => {}
        }
    }
}
