//! Maple tree walker over raw kernel memory (`lib/maple_tree.c`, Linux 6.1+; the VMA
//! tree `mm->mm_mt` since commit 763ecb035029 "mm: remove the vma linked list", v6.1).
//!
//! Nodes are 256-byte, 256-aligned `struct maple_node`s. An encoded node pointer
//! (`struct maple_enode *`) carries the node type in bits 3..6. Each node covers an
//! inclusive index range `[min, max]` inherited from its parent; pivot `i` is the
//! inclusive upper bound of slot `i`. See docs/kernel-structures section 1.
//!
//! [`walk`] reads every node once (one 256-byte read, safe against concurrent
//! copy-on-write on a live source) and returns a [`MapleSnapshot`]. [`mas_walk`]
//! follows the kernel's point-lookup descent and records the nodes it touched;
//! [`mt_find`] continues to the next entry like `find_vma()`.

use super::{ser_hex, ser_hex_vec, IssueKind, TreeError, WalkIssue, WalkLimits};
use crate::memory::bytes::le_u64;
use crate::memory::Memory;
use serde::Serialize;
use std::collections::HashSet;

/// Size and alignment of `struct maple_node` (`MAPLE_NODE_MASK + 1`).
pub const MAPLE_NODE_SIZE: usize = 256;
/// Low bits of an encoded node pointer that are not address bits.
pub const MAPLE_NODE_MASK: u64 = 0xFF;
pub const MAPLE_NODE_TYPE_SHIFT: u64 = 3;
pub const MAPLE_NODE_TYPE_MASK: u64 = 0x0F;
/// Values below this ending in binary `10` are internal entries (`xa_is_internal`).
pub const MAPLE_RESERVED_RANGE: u64 = 4096;
pub const MT_FLAGS_ALLOC_RANGE: u32 = 0x01;
pub const MT_FLAGS_HEIGHT_OFFSET: u32 = 0x02;
pub const MT_FLAGS_HEIGHT_MASK: u32 = 0x7C;
pub const MAPLE_HEIGHT_MAX: u32 = 31;
/// Bit 0 of a root node's `parent`: the rest is the `struct maple_tree` address.
pub const MA_ROOT_PARENT: u64 = 1;
/// Bit 1 of a parent pointer: the parent is not a 16-bit range node.
pub const MAPLE_PARENT_NOT_RANGE16: u64 = 0x02;
pub const MAPLE_PARENT_RANGE64: u64 = 0x06;
pub const MAPLE_PARENT_SLOT_SHIFT: u64 = 3;
pub const MAPLE_PARENT_16B_SLOT_SHIFT: u64 = 2;
pub const MAPLE_PARENT_16B_SLOT_MASK: u64 = 0xFC;
/// `xa_mk_internal(257)`: a reserved range that reads as NULL.
pub const XA_ZERO_ENTRY: u64 = 0x406;

/// `enum maple_type` (include/linux/maple_tree.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapleType {
    Dense,
    Leaf64,
    Range64,
    Arange64,
}

impl MapleType {
    pub fn from_raw(t: u8) -> Option<MapleType> {
        match t {
            0 => Some(MapleType::Dense),
            1 => Some(MapleType::Leaf64),
            2 => Some(MapleType::Range64),
            3 => Some(MapleType::Arange64),
            _ => None,
        }
    }

    /// `ma_is_leaf()`: dense and leaf_64 nodes hold entries, the others children.
    pub fn is_leaf(self) -> bool {
        matches!(self, MapleType::Dense | MapleType::Leaf64)
    }

    /// Kernel spelling (`maple_leaf_64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MapleType::Dense => "maple_dense",
            MapleType::Leaf64 => "maple_leaf_64",
            MapleType::Range64 => "maple_range_64",
            MapleType::Arange64 => "maple_arange_64",
        }
    }
}

/// Member offsets of the maple structures, probed by the caller from the type model
/// (DWARF/BTF): `maple_tree.ma_root/ma_flags`, `maple_range_64.pivot/slot/meta`,
/// `maple_arange_64.pivot/slot/gap/meta`, `maple_node.slot` (dense view),
/// `maple_metadata.end/gap`, and the array lengths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapleOffsets {
    /// `offsetof(struct maple_tree, ma_root)` (8 in 6.1; moved in later kernels).
    pub ma_root: u64,
    /// `offsetof(struct maple_tree, ma_flags)`.
    pub ma_flags: u64,
    pub range64_pivot: u64,
    pub range64_slot: u64,
    pub range64_meta: u64,
    /// Length of `maple_range_64.pivot[]` (15 on 64-bit).
    pub range64_pivots: usize,
    /// Length of `maple_range_64.slot[]` (16 on 64-bit).
    pub range64_slots: usize,
    pub arange64_pivot: u64,
    pub arange64_slot: u64,
    pub arange64_gap: u64,
    pub arange64_meta: u64,
    /// Length of `maple_arange_64.pivot[]` (9).
    pub arange64_pivots: usize,
    /// Length of `maple_arange_64.slot[]` and `gap[]` (10).
    pub arange64_slots: usize,
    /// `offsetof(struct maple_node, slot)` of the dense view (8).
    pub dense_slot: u64,
    /// Length of the dense `slot[]` (31).
    pub dense_slots: usize,
    /// `offsetof(struct maple_metadata, end)`.
    pub meta_end: u64,
    /// `offsetof(struct maple_metadata, gap)`.
    pub meta_gap: u64,
}

impl MapleOffsets {
    /// The x86_64 Debian 6.1 layout (pahole), as data for synthetic trees (tests,
    /// fuzzing); real offsets are probed from the type model at run time.
    pub fn x86_64_6_1() -> Self {
        MapleOffsets {
            ma_root: 8,
            ma_flags: 16,
            range64_pivot: 8,
            range64_slot: 128,
            range64_meta: 248,
            range64_pivots: 15,
            range64_slots: 16,
            arange64_pivot: 8,
            arange64_slot: 80,
            arange64_gap: 160,
            arange64_meta: 240,
            arange64_pivots: 9,
            arange64_slots: 10,
            dense_slot: 8,
            dense_slots: 31,
            meta_end: 0,
            meta_gap: 1,
        }
    }
}

impl MapleOffsets {
    /// Check that every array and field lies inside one 256-byte node.
    pub fn validate(&self) -> Result<(), TreeError> {
        let fits = |name: &str, off: u64, len: usize, size: u64| -> Result<(), TreeError> {
            let end = (len as u64)
                .checked_mul(size)
                .and_then(|n| n.checked_add(off));
            match end {
                Some(e) if e <= MAPLE_NODE_SIZE as u64 => Ok(()),
                _ => Err(TreeError::BadOffsets(format!(
                    "maple {name}: offset {off} x {len} does not fit a {MAPLE_NODE_SIZE}-byte node"
                ))),
            }
        };
        fits("range64.pivot", self.range64_pivot, self.range64_pivots, 8)?;
        fits("range64.slot", self.range64_slot, self.range64_slots, 8)?;
        fits(
            "range64.meta.end",
            self.range64_meta.saturating_add(self.meta_end),
            1,
            1,
        )?;
        fits(
            "range64.meta.gap",
            self.range64_meta.saturating_add(self.meta_gap),
            1,
            1,
        )?;
        fits(
            "arange64.pivot",
            self.arange64_pivot,
            self.arange64_pivots,
            8,
        )?;
        fits("arange64.slot", self.arange64_slot, self.arange64_slots, 8)?;
        fits("arange64.gap", self.arange64_gap, self.arange64_slots, 8)?;
        fits(
            "arange64.meta.end",
            self.arange64_meta.saturating_add(self.meta_end),
            1,
            1,
        )?;
        fits(
            "arange64.meta.gap",
            self.arange64_meta.saturating_add(self.meta_gap),
            1,
            1,
        )?;
        fits("dense.slot", self.dense_slot, self.dense_slots, 8)?;
        if self.range64_pivots == 0 || self.range64_slots != self.range64_pivots + 1 {
            return Err(TreeError::BadOffsets(
                "maple_range_64 needs slots == pivots + 1".into(),
            ));
        }
        if self.arange64_pivots == 0 || self.arange64_slots != self.arange64_pivots + 1 {
            return Err(TreeError::BadOffsets(
                "maple_arange_64 needs slots == pivots + 1".into(),
            ));
        }
        Ok(())
    }

    /// `mt_pivots[type]`.
    pub fn mt_pivots(&self, t: MapleType) -> usize {
        match t {
            MapleType::Dense => 0,
            MapleType::Leaf64 | MapleType::Range64 => self.range64_pivots,
            MapleType::Arange64 => self.arange64_pivots,
        }
    }

    /// `mt_slots[type]`.
    pub fn mt_slots(&self, t: MapleType) -> usize {
        match t {
            MapleType::Dense => self.dense_slots,
            MapleType::Leaf64 | MapleType::Range64 => self.range64_slots,
            MapleType::Arange64 => self.arange64_slots,
        }
    }
}

/// `xa_is_node()`: an encoded node pointer (as stored in `ma_root`).
pub fn xa_is_node(v: u64) -> bool {
    (v & 3) == 2 && v > MAPLE_RESERVED_RANGE
}

/// `mt_is_reserved()`: an internal value such as `XA_ZERO_ENTRY`.
pub fn mt_is_reserved(v: u64) -> bool {
    v < MAPLE_RESERVED_RANGE && (v & 3) == 2
}

/// `mte_to_node()`: node address of an encoded pointer.
pub fn mte_to_node(enode: u64) -> u64 {
    enode & !MAPLE_NODE_MASK
}

/// `mte_node_type()`: raw type bits of an encoded pointer.
pub fn mte_node_type(enode: u64) -> u8 {
    ((enode >> MAPLE_NODE_TYPE_SHIFT) & MAPLE_NODE_TYPE_MASK) as u8
}

/// `mt_height()`: height recorded in `ma_flags`.
pub fn mt_height(ma_flags: u32) -> u32 {
    (ma_flags & MT_FLAGS_HEIGHT_MASK) >> MT_FLAGS_HEIGHT_OFFSET
}

/// `ma_dead_node()`: the node's parent points back at the node.
pub fn ma_dead_node(node: u64, parent_raw: u64) -> bool {
    (parent_raw & !MAPLE_NODE_MASK) == node
}

/// `mte_parent_slot()`: the slot index recorded in a non-root parent pointer.
pub fn mte_parent_slot(parent_raw: u64) -> u8 {
    if parent_raw & MA_ROOT_PARENT != 0 {
        return 0;
    }
    let shift = if parent_raw & MAPLE_PARENT_NOT_RANGE16 != 0 {
        MAPLE_PARENT_SLOT_SHIFT
    } else {
        MAPLE_PARENT_16B_SLOT_SHIFT
    };
    ((parent_raw & MAPLE_PARENT_16B_SLOT_MASK) >> shift) as u8
}

/// A node's `parent` word, decoded as `mte_parent()`/`mas_parent_type()` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MapleParent {
    /// Root node: the word is `&struct maple_tree | MA_ROOT_PARENT`.
    Root {
        #[serde(serialize_with = "ser_hex")]
        tree: u64,
    },
    /// Inner node: parent node address, slot in the parent, and the parent type the
    /// bits select (`maple_arange_64` in an ALLOC_RANGE tree, else `maple_range_64`;
    /// `None` for a bit pattern that names no 64-bit node type).
    Node {
        #[serde(serialize_with = "ser_hex")]
        node: u64,
        slot: u8,
        parent_type: Option<MapleType>,
    },
}

/// `mte_parent()` + `mte_parent_slot()` + `mas_parent_type()` on a raw parent word.
pub fn decode_parent(parent_raw: u64, ma_flags: u32) -> MapleParent {
    if parent_raw & MA_ROOT_PARENT != 0 {
        return MapleParent::Root {
            tree: parent_raw & !MA_ROOT_PARENT,
        };
    }
    let slot_mask = if parent_raw & MAPLE_PARENT_NOT_RANGE16 != 0 {
        0xF8
    } else {
        MAPLE_PARENT_16B_SLOT_MASK
    };
    let type_bits = parent_raw & MAPLE_NODE_MASK & !(MA_ROOT_PARENT | slot_mask);
    let parent_type = if type_bits == MAPLE_PARENT_RANGE64 {
        Some(if ma_flags & MT_FLAGS_ALLOC_RANGE != 0 {
            MapleType::Arange64
        } else {
            MapleType::Range64
        })
    } else {
        None
    };
    MapleParent::Node {
        node: parent_raw & !MAPLE_NODE_MASK,
        slot: mte_parent_slot(parent_raw),
        parent_type,
    }
}

/// What a slot in the data range holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    /// Internal node: an encoded child pointer.
    Child,
    /// Leaf: a user entry (for `mm_mt`, a `struct vm_area_struct *`).
    Entry,
    /// Leaf: `XA_ZERO_ENTRY` or another reserved internal value (reads as NULL).
    Reserved,
    /// NULL: an empty range (a hole in the address space), or a missing child.
    Null,
}

/// One slot of a node's data range `0..=data_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MapleSlot {
    pub index: u8,
    /// Raw slot value.
    #[serde(serialize_with = "ser_hex")]
    pub raw: u64,
    /// Inclusive index range covered by this slot.
    #[serde(serialize_with = "ser_hex")]
    pub min: u64,
    #[serde(serialize_with = "ser_hex")]
    pub max: u64,
    pub kind: SlotKind,
}

/// Every field of one node as read from memory, plus what the walker derived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapleNodeSnap {
    /// Node address (256-aligned).
    #[serde(serialize_with = "ser_hex")]
    pub addr: u64,
    /// The encoded pointer that led here (from `ma_root` or the parent's slot).
    #[serde(serialize_with = "ser_hex")]
    pub enode: u64,
    pub node_type: MapleType,
    /// Root = 1.
    pub depth: u32,
    /// Inclusive range inherited from the parent (root: `[0, ULONG_MAX]`).
    #[serde(serialize_with = "ser_hex")]
    pub min: u64,
    #[serde(serialize_with = "ser_hex")]
    pub max: u64,
    /// Raw `parent` word.
    #[serde(serialize_with = "ser_hex")]
    pub parent_raw: u64,
    pub parent: MapleParent,
    /// Where the walker came from: `None` for the root, else (parent node, slot).
    pub came_from: Option<(u64, u8)>,
    /// `ma_dead_node()`.
    pub dead: bool,
    /// All stored pivots (`mt_pivots[type]` of them; empty for dense).
    #[serde(serialize_with = "ser_hex_vec")]
    pub pivots: Vec<u64>,
    /// All stored slots (`mt_slots[type]`), raw; `slot[15]` of a non-full
    /// range/leaf node holds the metadata bytes.
    #[serde(serialize_with = "ser_hex_vec")]
    pub raw_slots: Vec<u64>,
    /// `gap[]` of arange_64 nodes (empty otherwise).
    #[serde(serialize_with = "ser_hex_vec")]
    pub gaps: Vec<u64>,
    /// `meta.end` byte as stored (meaningful only when the node uses metadata).
    pub meta_end: u8,
    /// `meta.gap` byte as stored (arange_64: index of the largest gap).
    pub meta_gap: u8,
    /// Whether `ma_data_end()` took the end from the metadata.
    pub end_from_meta: bool,
    /// `ma_data_end()`: index of the last used slot, as the kernel computes it
    /// (may exceed the slot count on a corrupt node; see `slots`).
    pub data_end: u8,
    /// Slots `0..=data_end` (clamped to the slot count) with their ranges.
    pub slots: Vec<MapleSlot>,
}

impl MapleNodeSnap {
    /// Number of used slots.
    pub fn used(&self) -> usize {
        self.slots.len()
    }
}

/// One non-NULL leaf entry in address order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MapleEntry {
    #[serde(serialize_with = "ser_hex")]
    pub first: u64,
    #[serde(serialize_with = "ser_hex")]
    pub last: u64,
    #[serde(serialize_with = "ser_hex")]
    pub entry: u64,
    /// Leaf node holding the entry (0 when the entry sits in `ma_root` itself).
    #[serde(serialize_with = "ser_hex")]
    pub node: u64,
    pub slot: u8,
    /// `XA_ZERO_ENTRY` or another reserved value: a range that reads as NULL, not a VMA.
    pub reserved: bool,
}

/// Everything a walk read: the tree head, every node in depth-first pre-order
/// (leaves therefore in address order), the entries, and the issues met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapleSnapshot {
    /// Address of the `struct maple_tree`.
    #[serde(serialize_with = "ser_hex")]
    pub tree: u64,
    #[serde(serialize_with = "ser_hex")]
    pub ma_root: u64,
    pub ma_flags: u32,
    /// `mt_height(ma_flags)`.
    pub height: u32,
    pub nodes: Vec<MapleNodeSnap>,
    /// Leaf entries in ascending index order, reserved ones included (flagged).
    pub entries: Vec<MapleEntry>,
    pub issues: Vec<WalkIssue>,
}

impl MapleSnapshot {
    /// Entries that are real pointers (not reserved values).
    pub fn user_entries(&self) -> impl Iterator<Item = &MapleEntry> {
        self.entries.iter().filter(|e| !e.reserved)
    }

    /// Height, node counts and fill, bytes of node memory.
    pub fn summary(&self) -> MapleSummary {
        let mut s = MapleSummary {
            height_in_flags: self.height,
            levels_walked: self.nodes.iter().map(|n| n.depth).max().unwrap_or(0),
            nodes: self.nodes.len(),
            entries: self.user_entries().count(),
            reserved_entries: self.entries.iter().filter(|e| e.reserved).count(),
            node_bytes: (self.nodes.len() * MAPLE_NODE_SIZE) as u64,
            ..MapleSummary::default()
        };
        let mut per: std::collections::BTreeMap<u8, TypeStats> = std::collections::BTreeMap::new();
        for n in &self.nodes {
            let st = per
                .entry(n.node_type as u8)
                .or_insert_with(|| TypeStats::default_for(n.node_type));
            st.nodes += 1;
            st.used_slots += n.used();
            st.capacity += n.raw_slots.len();
            st.null_slots += n.slots.iter().filter(|x| x.kind == SlotKind::Null).count();
        }
        s.per_type = per.into_values().collect();
        s
    }
}

/// Per-type statistics for the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeStats {
    pub node_type: MapleType,
    pub nodes: usize,
    /// Slots in use (`data_end + 1` summed).
    pub used_slots: usize,
    /// Slots available (`mt_slots[type]` summed).
    pub capacity: usize,
    /// Used slots that are NULL (holes in a leaf).
    pub null_slots: usize,
}

impl TypeStats {
    fn default_for(t: MapleType) -> Self {
        TypeStats {
            node_type: t,
            nodes: 0,
            used_slots: 0,
            capacity: 0,
            null_slots: 0,
        }
    }
}

/// The `tree` command's summary of a maple tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MapleSummary {
    /// Height recorded in `ma_flags`.
    pub height_in_flags: u32,
    /// Deepest level the walk reached.
    pub levels_walked: u32,
    pub nodes: usize,
    /// Non-reserved entries (VMAs for `mm_mt`).
    pub entries: usize,
    pub reserved_entries: usize,
    pub per_type: Vec<TypeStats>,
    /// `nodes * 256`.
    pub node_bytes: u64,
}

/// A node decoded from its 256 bytes.
struct Decoded {
    node_type: MapleType,
    parent_raw: u64,
    pivots: Vec<u64>,
    raw_slots: Vec<u64>,
    gaps: Vec<u64>,
    meta_end: u8,
    meta_gap: u8,
    end_from_meta: bool,
    data_end: u8,
}

fn byte_at(buf: &[u8], off: u64) -> u8 {
    usize::try_from(off)
        .ok()
        .and_then(|o| buf.get(o))
        .copied()
        .unwrap_or(0)
}

fn u64_array(buf: &[u8], off: u64, len: usize) -> Vec<u64> {
    (0..len)
        .map(|i| {
            usize::try_from(off)
                .ok()
                .and_then(|o| le_u64(buf, o + i * 8))
                .unwrap_or(0)
        })
        .collect()
}

/// `ma_data_end()`: the index of the last used slot. arange_64 nodes always keep it
/// in the metadata; range/leaf nodes only when the last pivot is 0 (a full node has
/// no room for metadata, `slot[15]` being a real slot then).
pub fn ma_data_end(node_type: MapleType, pivots: &[u64], meta_end: u8, max: u64) -> (u8, bool) {
    match node_type {
        MapleType::Arange64 => (meta_end, true),
        MapleType::Dense => (meta_end, true),
        MapleType::Leaf64 | MapleType::Range64 => {
            let n = pivots.len();
            match pivots.last() {
                None => (meta_end, true),
                Some(0) => (meta_end, true),
                Some(&p) if p == max => ((n - 1) as u8, false),
                Some(_) => (n as u8, false),
            }
        }
    }
}

fn decode(buf: &[u8], node_type: MapleType, max: u64, o: &MapleOffsets) -> Decoded {
    let parent_raw = le_u64(buf, 0).unwrap_or(0);
    let (pivots, raw_slots, gaps, meta) = match node_type {
        MapleType::Dense => (
            Vec::new(),
            u64_array(buf, o.dense_slot, o.dense_slots),
            Vec::new(),
            None,
        ),
        MapleType::Leaf64 | MapleType::Range64 => (
            u64_array(buf, o.range64_pivot, o.range64_pivots),
            u64_array(buf, o.range64_slot, o.range64_slots),
            Vec::new(),
            Some(o.range64_meta),
        ),
        MapleType::Arange64 => (
            u64_array(buf, o.arange64_pivot, o.arange64_pivots),
            u64_array(buf, o.arange64_slot, o.arange64_slots),
            u64_array(buf, o.arange64_gap, o.arange64_slots),
            Some(o.arange64_meta),
        ),
    };
    let (meta_end, meta_gap) = match meta {
        Some(m) => (
            byte_at(buf, m.saturating_add(o.meta_end)),
            byte_at(buf, m.saturating_add(o.meta_gap)),
        ),
        None => (0, 0),
    };
    let (data_end, end_from_meta) = if node_type == MapleType::Dense {
        // Dense nodes carry no metadata: the data ends at the last non-NULL slot.
        let last = raw_slots.iter().rposition(|&s| s != 0).unwrap_or(0);
        (last as u8, false)
    } else {
        ma_data_end(node_type, &pivots, meta_end, max)
    };
    Decoded {
        node_type,
        parent_raw,
        pivots,
        raw_slots,
        gaps,
        meta_end,
        meta_gap,
        end_from_meta,
        data_end,
    }
}

/// Slot ranges of slots `0..=end` (end clamped to the slot count). The slot at
/// `end` ends at the node's `max`, as in `mtree_range_walk()`.
fn slot_ranges(d: &Decoded, min: u64, max: u64) -> Vec<MapleSlot> {
    let nslots = d.raw_slots.len();
    if nslots == 0 {
        return Vec::new();
    }
    let end = (d.data_end as usize).min(nslots - 1);
    let mut out = Vec::with_capacity(end + 1);
    let mut lo = min;
    for i in 0..=end {
        let raw = d.raw_slots.get(i).copied().unwrap_or(0);
        let hi = if d.node_type == MapleType::Dense {
            min.wrapping_add(i as u64)
        } else if i < end {
            d.pivots.get(i).copied().unwrap_or(max)
        } else {
            max
        };
        if d.node_type == MapleType::Dense {
            lo = hi;
        }
        let kind = if !d.node_type.is_leaf() {
            if raw == 0 {
                SlotKind::Null
            } else {
                SlotKind::Child
            }
        } else if raw == 0 {
            SlotKind::Null
        } else if mt_is_reserved(raw) {
            SlotKind::Reserved
        } else {
            SlotKind::Entry
        };
        out.push(MapleSlot {
            index: i as u8,
            raw,
            min: lo,
            max: hi,
            kind,
        });
        lo = hi.wrapping_add(1);
    }
    out
}

fn read_node(mem: &dyn Memory, addr: u64) -> Result<[u8; MAPLE_NODE_SIZE], String> {
    let mut buf = [0u8; MAPLE_NODE_SIZE];
    mem.read(addr, &mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

fn read_head(mem: &dyn Memory, tree: u64, o: &MapleOffsets) -> Result<(u64, u32), TreeError> {
    o.validate()?;
    let ra = tree.wrapping_add(o.ma_root);
    let root = mem
        .read_u64(ra)
        .map_err(|source| TreeError::Head { addr: ra, source })?;
    let fa = tree.wrapping_add(o.ma_flags);
    let flags = mem
        .read_u32(fa)
        .map_err(|source| TreeError::Head { addr: fa, source })?;
    Ok((root, flags))
}

struct Pending {
    enode: u64,
    min: u64,
    max: u64,
    depth: u32,
    came_from: Option<(u64, u8)>,
}

/// How many times a live walk may start again from the root ([`walk_live`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewalks(pub u32);

impl Default for Rewalks {
    /// A writer replaces a handful of nodes per change: a few restarts ride out one
    /// change, more mean the tree keeps changing and the caller should read it again.
    fn default() -> Self {
        Rewalks(16)
    }
}

/// Walk the whole tree at `tree` (address of a `struct maple_tree`), reading every
/// node once, in depth-first order so that leaves and entries come out ascending.
/// Memory is taken as frozen (a dump): everything met is reported as found.
pub fn walk(
    mem: &dyn Memory,
    tree: u64,
    o: &MapleOffsets,
    limits: WalkLimits,
) -> Result<MapleSnapshot, TreeError> {
    Ok(walk_inner(mem, tree, o, limits, None)?.0)
}

/// [`walk`] on memory that a writer may be changing (a live kernel), read the way the
/// kernel's lockless readers do (`mas_walk()`/`mas_rewalk()` under RCU): a node that is
/// dead, whose parent word no longer leads back to where the walk came from, or that
/// sits at the wrong level for the tree's height, means "start again from the root at
/// the first index not yet covered". Entries already taken stay; an entry that now
/// reaches below that index replaces the stale ones it overlaps, so the entries stay
/// sorted and disjoint. A sign met again at the same node with the same parent word
/// after a restart is not a race but the tree's state, and is reported as [`walk`]
/// would. The node list of a walk that restarted mixes the tree's versions: only a walk
/// without [`RaceReport::rewalks`] is a snapshot of one state.
pub fn walk_live(
    mem: &dyn Memory,
    tree: u64,
    o: &MapleOffsets,
    limits: WalkLimits,
    rewalks: Rewalks,
) -> Result<(MapleSnapshot, RaceReport), TreeError> {
    walk_inner(mem, tree, o, limits, Some(rewalks))
}

/// Signs of a concurrent writer that a live walk met and restarted past.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RaceReport {
    /// Restarts from the root.
    pub rewalks: u32,
    /// What triggered each restart, in order.
    pub signs: Vec<RaceSign>,
    /// The restart budget ran out; the rest was walked as frozen memory.
    pub exhausted: bool,
}

/// One sign of a concurrent writer at a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "sign", rename_all = "snake_case")]
pub enum RaceSign {
    /// The writer freed the node and marked it (`ma_dead_node()`).
    Dead {
        #[serde(serialize_with = "ser_hex")]
        node: u64,
    },
    /// The node's parent word does not lead back to the slot the walk came from.
    Moved {
        #[serde(serialize_with = "ser_hex")]
        node: u64,
        #[serde(serialize_with = "ser_hex")]
        parent_raw: u64,
    },
    /// A leaf above the height in `ma_flags`, or an inner node at or below it.
    WrongLevel {
        #[serde(serialize_with = "ser_hex")]
        node: u64,
        depth: u32,
        height: u32,
    },
}

/// Restart bookkeeping of a live walk.
struct Live {
    budget: Rewalks,
    report: RaceReport,
    /// Lowest index whose entry has not been taken yet (`None`: all taken).
    next: Option<u64>,
    /// (node, parent word) of the last sign restarted for: met again, it is the state.
    last: Option<(u64, u64)>,
}

impl Live {
    /// A sign of a concurrent writer at this node, if any.
    fn sign(addr: u64, d: &Decoded, p: &Pending, tree: u64, height: u32) -> Option<RaceSign> {
        if ma_dead_node(addr, d.parent_raw) {
            return Some(RaceSign::Dead { node: addr });
        }
        let home = match (p.came_from, decode_parent(d.parent_raw, 0)) {
            (None, _) => d.parent_raw == tree | MA_ROOT_PARENT,
            (Some((pn, ps)), MapleParent::Node { node, slot, .. }) => node == pn && slot == ps,
            (Some(_), MapleParent::Root { .. }) => false,
        };
        if !home {
            return Some(RaceSign::Moved {
                node: addr,
                parent_raw: d.parent_raw,
            });
        }
        let leaf_level = p.depth == height;
        if height != 0 && d.node_type.is_leaf() != leaf_level {
            return Some(RaceSign::WrongLevel {
                node: addr,
                depth: p.depth,
                height,
            });
        }
        None
    }

    /// Whether to restart for `sign`: not when the budget is spent, nor when the same
    /// node shows the same parent word again (nothing moved: that is the tree's state).
    fn restart(&mut self, sign: RaceSign, addr: u64, parent_raw: u64) -> bool {
        if self.last == Some((addr, parent_raw)) {
            return false;
        }
        if self.report.rewalks >= self.budget.0 {
            self.report.exhausted = true;
            return false;
        }
        self.report.rewalks += 1;
        self.report.signs.push(sign);
        self.last = Some((addr, parent_raw));
        true
    }

    /// Take a leaf entry: entries end ascending, so the stale ones it overlaps are last.
    fn take(&mut self, entries: &mut Vec<MapleEntry>, e: MapleEntry) {
        if self.next.is_some_and(|n| e.last < n) || self.next.is_none() {
            return;
        }
        while entries.last().is_some_and(|x| x.last >= e.first) {
            entries.pop();
        }
        entries.push(e);
    }
}

/// Per-walk state shared by the frozen and the live walk.
struct Walker<'a> {
    mem: &'a dyn Memory,
    o: &'a MapleOffsets,
    limits: WalkLimits,
    snap: MapleSnapshot,
    visited: HashSet<u64>,
    stack: Vec<Pending>,
    live: Option<Live>,
}

impl Walker<'_> {
    /// Start (again) from `ma_root`; false when the tree holds no node.
    fn start(&mut self, ma_root: u64) -> bool {
        self.stack.clear();
        self.visited.clear();
        if ma_root == 0 || !xa_is_node(ma_root) {
            return false;
        }
        self.stack.push(Pending {
            enode: ma_root,
            min: 0,
            max: u64::MAX,
            depth: 1,
            came_from: None,
        });
        true
    }

    /// Restart from a freshly read head (live walks only): the tree may have grown.
    fn rewalk(&mut self) -> Result<(), TreeError> {
        let (ma_root, ma_flags) = read_head(self.mem, self.snap.tree, self.o)?;
        self.snap.ma_root = ma_root;
        self.snap.ma_flags = ma_flags;
        self.snap.height = mt_height(ma_flags);
        self.start(ma_root);
        Ok(())
    }

    /// Check the limits and the node type before reading; `None` skips the node.
    fn admit(&mut self, p: &Pending, max_depth: u32) -> Option<MapleType> {
        let addr = mte_to_node(p.enode);
        let issue = if p.depth > max_depth {
            IssueKind::TooDeep { depth: p.depth }
        } else {
            let raw_type = mte_node_type(p.enode);
            match MapleType::from_raw(raw_type) {
                None => IssueKind::BadType {
                    node_type: raw_type,
                },
                Some(t) if self.visited.insert(addr) => return Some(t),
                Some(_) => IssueKind::Cycle,
            }
        };
        self.snap.issues.push(WalkIssue { addr, kind: issue });
        None
    }

    /// Take a leaf's entries, or queue an inner node's children (leftmost on top).
    fn descend(&mut self, p: &Pending, addr: u64, node_type: MapleType, slots: &[MapleSlot]) {
        let skip_below = match &self.live {
            Some(l) => l.next.unwrap_or(u64::MAX),
            None => 0,
        };
        if node_type.is_leaf() {
            for s in slots {
                if s.kind == SlotKind::Entry || s.kind == SlotKind::Reserved {
                    let e = MapleEntry {
                        first: s.min,
                        last: s.max,
                        entry: s.raw,
                        node: addr,
                        slot: s.index,
                        reserved: s.kind == SlotKind::Reserved,
                    };
                    match &mut self.live {
                        Some(l) => l.take(&mut self.snap.entries, e),
                        None => self.snap.entries.push(e),
                    }
                }
            }
            if let Some(l) = &mut self.live {
                l.next = l.next.and_then(|n| n.max(p.max).checked_add(1));
            }
            return;
        }
        for s in slots.iter().rev() {
            if s.kind == SlotKind::Child && s.max >= skip_below {
                self.stack.push(Pending {
                    enode: s.raw,
                    min: s.min,
                    max: s.max,
                    depth: p.depth + 1,
                    came_from: Some((addr, s.index)),
                });
            }
        }
    }
}

fn walk_inner(
    mem: &dyn Memory,
    tree: u64,
    o: &MapleOffsets,
    limits: WalkLimits,
    rewalks: Option<Rewalks>,
) -> Result<(MapleSnapshot, RaceReport), TreeError> {
    let (ma_root, ma_flags) = read_head(mem, tree, o)?;
    let mut w = Walker {
        mem,
        o,
        limits,
        snap: MapleSnapshot {
            tree,
            ma_root,
            ma_flags,
            height: mt_height(ma_flags),
            nodes: Vec::new(),
            entries: Vec::new(),
            issues: Vec::new(),
        },
        visited: HashSet::new(),
        stack: Vec::new(),
        live: rewalks.map(|budget| Live {
            budget,
            report: RaceReport::default(),
            next: Some(0),
            last: None,
        }),
    };
    if ma_root != 0 && !xa_is_node(ma_root) {
        // A single entry stored for index 0 only (never the case for an mm tree).
        w.snap.entries.push(MapleEntry {
            first: 0,
            last: 0,
            entry: ma_root,
            node: 0,
            slot: 0,
            reserved: mt_is_reserved(ma_root),
        });
    }
    w.start(ma_root);
    let max_depth = limits.max_depth.min(MAPLE_HEIGHT_MAX + 1);
    while let Some(p) = w.stack.pop() {
        let addr = mte_to_node(p.enode);
        if w.snap.nodes.len() >= w.limits.max_nodes {
            w.snap.issues.push(WalkIssue {
                addr,
                kind: IssueKind::TooManyNodes {
                    limit: w.limits.max_nodes,
                },
            });
            break;
        }
        let Some(node_type) = w.admit(&p, max_depth) else {
            continue;
        };
        let buf = match read_node(mem, addr) {
            Ok(b) => b,
            Err(error) => {
                w.snap.issues.push(WalkIssue {
                    addr,
                    kind: IssueKind::Fault { error },
                });
                continue;
            }
        };
        let d = decode(&buf, node_type, p.max, o);
        let height = w.snap.height;
        if let Some(l) = &mut w.live {
            let sign = Live::sign(addr, &d, &p, tree, height);
            if sign.is_some_and(|s| l.restart(s, addr, d.parent_raw)) {
                w.rewalk()?;
                continue;
            }
        }
        let dead = ma_dead_node(addr, d.parent_raw);
        let slots = slot_ranges(&d, p.min, p.max);
        if dead {
            w.snap.issues.push(WalkIssue {
                addr,
                kind: IssueKind::DeadNode,
            });
        } else {
            w.descend(&p, addr, node_type, &slots);
        }
        w.snap.nodes.push(MapleNodeSnap {
            addr,
            enode: p.enode,
            node_type,
            depth: p.depth,
            min: p.min,
            max: p.max,
            parent_raw: d.parent_raw,
            parent: decode_parent(d.parent_raw, ma_flags),
            came_from: p.came_from,
            dead,
            pivots: d.pivots,
            raw_slots: d.raw_slots,
            gaps: d.gaps,
            meta_end: d.meta_end,
            meta_gap: d.meta_gap,
            end_from_meta: d.end_from_meta,
            data_end: d.data_end,
            slots,
        });
    }
    let report = w.live.map(|l| l.report).unwrap_or_default();
    Ok((w.snap, report))
}

/// One node on a lookup path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PathStep {
    #[serde(serialize_with = "ser_hex")]
    pub node: u64,
    pub node_type: MapleType,
    /// Slot taken in this node.
    pub slot: u8,
    /// Range of the node.
    #[serde(serialize_with = "ser_hex")]
    pub min: u64,
    #[serde(serialize_with = "ser_hex")]
    pub max: u64,
    /// Pivots compared before the slot was chosen.
    pub pivots_compared: u32,
}

/// Result of a point lookup: the entry (or NULL), the range of the slot that
/// answered, and the nodes touched from the root down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapleLookup {
    #[serde(serialize_with = "ser_hex")]
    pub index: u64,
    /// Slot value at the leaf (0 = NULL; reserved values are reported as they are).
    #[serde(serialize_with = "ser_hex")]
    pub entry: u64,
    #[serde(serialize_with = "ser_hex")]
    pub min: u64,
    #[serde(serialize_with = "ser_hex")]
    pub max: u64,
    pub path: Vec<PathStep>,
    /// Set when the descent stopped at a bad node instead of a leaf.
    pub issue: Option<WalkIssue>,
}

/// `mas_walk()`/`mtree_load()` descent for `index`: in each node take the first
/// slot whose pivot is `>= index` (else the slot at `data_end`), narrow the range,
/// and descend until a leaf.
pub fn mas_walk(
    mem: &dyn Memory,
    tree: u64,
    o: &MapleOffsets,
    index: u64,
) -> Result<MapleLookup, TreeError> {
    let (ma_root, _ma_flags) = read_head(mem, tree, o)?;
    let mut res = MapleLookup {
        index,
        entry: 0,
        min: 0,
        max: u64::MAX,
        path: Vec::new(),
        issue: None,
    };
    if ma_root == 0 {
        return Ok(res);
    }
    if !xa_is_node(ma_root) {
        if index == 0 {
            res.entry = ma_root;
            res.max = 0;
        } else {
            res.min = 1;
        }
        return Ok(res);
    }
    let mut enode = ma_root;
    let (mut min, mut max) = (0u64, u64::MAX);
    for _depth in 1..=MAPLE_HEIGHT_MAX + 1 {
        let addr = mte_to_node(enode);
        let raw_type = mte_node_type(enode);
        let Some(node_type) = MapleType::from_raw(raw_type) else {
            res.issue = Some(WalkIssue {
                addr,
                kind: IssueKind::BadType {
                    node_type: raw_type,
                },
            });
            return Ok(res);
        };
        let buf = match read_node(mem, addr) {
            Ok(b) => b,
            Err(error) => {
                res.issue = Some(WalkIssue {
                    addr,
                    kind: IssueKind::Fault { error },
                });
                return Ok(res);
            }
        };
        let d = decode(&buf, node_type, max, o);
        if ma_dead_node(addr, d.parent_raw) {
            res.issue = Some(WalkIssue {
                addr,
                kind: IssueKind::DeadNode,
            });
            return Ok(res);
        }
        let slots = slot_ranges(&d, min, max);
        let (pick, compared) = if node_type == MapleType::Dense {
            (index.wrapping_sub(min) as usize, 0)
        } else {
            let end = slots.len().saturating_sub(1);
            let mut i = 0;
            let mut compared = 0;
            while i < end {
                compared += 1;
                if d.pivots.get(i).copied().unwrap_or(u64::MAX) >= index {
                    break;
                }
                i += 1;
            }
            (i, compared)
        };
        let Some(s) = slots.get(pick).copied() else {
            res.issue = Some(WalkIssue {
                addr,
                kind: IssueKind::NotANode { raw: 0 },
            });
            return Ok(res);
        };
        res.path.push(PathStep {
            node: addr,
            node_type,
            slot: s.index,
            min,
            max,
            pivots_compared: compared,
        });
        min = s.min;
        max = s.max;
        if node_type.is_leaf() {
            res.entry = s.raw;
            res.min = min;
            res.max = max;
            return Ok(res);
        }
        if s.raw == 0 {
            res.issue = Some(WalkIssue {
                addr,
                kind: IssueKind::NotANode { raw: 0 },
            });
            return Ok(res);
        }
        enode = s.raw;
    }
    res.issue = Some(WalkIssue {
        addr: mte_to_node(enode),
        kind: IssueKind::TooDeep {
            depth: MAPLE_HEIGHT_MAX + 2,
        },
    });
    Ok(res)
}

/// What [`mt_find`] answers: `(first, last, entry)` of the hit, the nodes touched,
/// and the issue that stopped the search early (if any).
pub type MtFound = (Option<(u64, u64, u64)>, Vec<u64>, Option<WalkIssue>);

/// `mt_find()` as `find_vma()` uses it: the first non-NULL, non-reserved entry whose
/// range ends at or after `index`. Returns `(first, last, entry)` or `None`, and the
/// nodes touched in visiting order.
pub fn mt_find(
    mem: &dyn Memory,
    tree: u64,
    o: &MapleOffsets,
    index: u64,
) -> Result<MtFound, TreeError> {
    let (ma_root, _ma_flags) = read_head(mem, tree, o)?;
    let mut touched = Vec::new();
    if ma_root == 0 {
        return Ok((None, touched, None));
    }
    if !xa_is_node(ma_root) {
        let hit = (index == 0 && !mt_is_reserved(ma_root)).then_some((0, 0, ma_root));
        return Ok((hit, touched, None));
    }
    // Depth-first from the root, skipping subtrees that end before `index`.
    let mut stack = vec![(ma_root, 0u64, u64::MAX, 1u32)];
    let mut budget = WalkLimits::default().max_nodes;
    while let Some((enode, min, max, depth)) = stack.pop() {
        let addr = mte_to_node(enode);
        if budget == 0 {
            return Ok((
                None,
                touched,
                Some(WalkIssue {
                    addr,
                    kind: IssueKind::TooManyNodes {
                        limit: WalkLimits::default().max_nodes,
                    },
                }),
            ));
        }
        budget -= 1;
        if depth > MAPLE_HEIGHT_MAX + 1 {
            return Ok((
                None,
                touched,
                Some(WalkIssue {
                    addr,
                    kind: IssueKind::TooDeep { depth },
                }),
            ));
        }
        let raw_type = mte_node_type(enode);
        let Some(node_type) = MapleType::from_raw(raw_type) else {
            return Ok((
                None,
                touched,
                Some(WalkIssue {
                    addr,
                    kind: IssueKind::BadType {
                        node_type: raw_type,
                    },
                }),
            ));
        };
        let buf = match read_node(mem, addr) {
            Ok(b) => b,
            Err(error) => {
                return Ok((
                    None,
                    touched,
                    Some(WalkIssue {
                        addr,
                        kind: IssueKind::Fault { error },
                    }),
                ))
            }
        };
        touched.push(addr);
        let d = decode(&buf, node_type, max, o);
        if ma_dead_node(addr, d.parent_raw) {
            return Ok((
                None,
                touched,
                Some(WalkIssue {
                    addr,
                    kind: IssueKind::DeadNode,
                }),
            ));
        }
        let slots = slot_ranges(&d, min, max);
        if node_type.is_leaf() {
            if let Some(s) = slots
                .iter()
                .find(|s| s.max >= index && s.kind == SlotKind::Entry)
            {
                return Ok((Some((s.min, s.max, s.raw)), touched, None));
            }
        } else {
            for s in slots.iter().rev() {
                if s.max >= index && s.kind == SlotKind::Child {
                    stack.push((s.raw, s.min, s.max, depth + 1));
                }
            }
        }
    }
    Ok((None, touched, None))
}

/// [`mt_find`] on live memory: a dead node met on the way restarts the lookup from the
/// root, as `mas_rewalk()` does for the kernel's lockless readers, at most `rewalks`
/// times; what stops it after that is reported as [`mt_find`] reports it.
pub fn mt_find_live(
    mem: &dyn Memory,
    tree: u64,
    o: &MapleOffsets,
    index: u64,
    rewalks: Rewalks,
) -> Result<MtFound, TreeError> {
    let mut left = rewalks.0;
    loop {
        let found = mt_find(mem, tree, o, index)?;
        match &found.2 {
            Some(i) if i.kind == IssueKind::DeadNode && left > 0 => left -= 1,
            _ => return Ok(found),
        }
    }
}

#[cfg(test)]
mod tests;
