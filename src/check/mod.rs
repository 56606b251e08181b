//! `vmscope check`: invariant validation of the raw VMA trees walked from memory,
//! and cross-checks of three independent views of one address space: the raw
//! walk, our own reimplementation (`crate::reimpl`) fed with the walked VMAs,
//! and `/proc/PID/maps`.
//!
//! Everything here works on snapshots (`crate::trees`) plus small traits for
//! what a snapshot does not carry (VMA fields, raw lookups), so it is tested on
//! synthetic images as well as real dumps.

/// `Report::expect` that builds the field name only on failure (hot loops make
/// hundreds of thousands of checks).
macro_rules! expect {
    ($r:expr, $check:expr, $ok:expr, $node:expr, $field:expr, $exp:expr, $act:expr $(,)?) => {
        if $ok {
            $r.checked($check, 1)
        } else {
            {
                let expected: String = ($exp)();
                let actual: String = ($act)();
                $r.fail($check, $node, $field, expected, actual)
            }
        }
    };
}

pub mod churn;
pub mod cost_table;
pub mod costs;
pub mod cross;
pub mod maple;
pub mod maps;
pub mod probes;
pub mod rbtree;
pub mod records;
pub mod work;

#[cfg(test)]
mod tests;

use serde::Serialize;

/// `VM_GROWSDOWN` (include/linux/mm.h), stable across 5.10 and 6.1.
pub const VM_GROWSDOWN: u64 = 0x100;

/// One violated invariant or mismatch: which check, where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable check identifier, e.g. `maple.pivots`.
    pub check: &'static str,
    /// Address of the node (maple node, rb_node, vm_area_struct) concerned; 0 when
    /// the finding concerns the tree as a whole.
    #[serde(serialize_with = "crate::trees::ser_hex")]
    pub node: u64,
    /// Slot or field, e.g. `pivot[3]`, `gap[2]`, `__rb_parent_color`.
    pub field: String,
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: node {:#x} {}: expected {}, found {}",
            self.check, self.node, self.field, self.expected, self.actual
        )
    }
}

/// How many items one check looked at and how many failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub checked: u64,
    pub failed: u64,
}

/// Tallies by check name, in name order. Lookups compare the `&'static str`
/// pointer first: the hot loops pass the same literal every time.
#[derive(Debug, Clone, Default)]
pub struct Tallies(Vec<(&'static str, Tally)>);

impl Tallies {
    pub fn get(&self, name: &str) -> Option<&Tally> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, t)| t)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Tally> {
        self.0.iter_mut().find(|(k, _)| *k == name).map(|(_, t)| t)
    }

    /// The tally of `name`, created (keeping name order) if missing.
    pub fn entry(&mut self, name: &'static str) -> &mut Tally {
        let pos = self
            .0
            .iter()
            .position(|(k, _)| std::ptr::eq(*k, name))
            .or_else(|| self.0.iter().position(|(k, _)| *k == name));
        let i = match pos {
            Some(i) => i,
            None => {
                let at = self.0.partition_point(|(k, _)| *k < name);
                self.0.insert(at, (name, Tally::default()));
                at
            }
        };
        &mut self.0[i].1
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Tally)> {
        self.0.iter().map(|(k, t)| (*k, t))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Tallies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, t) in &self.0 {
            m.serialize_entry(k, t)?;
        }
        m.end()
    }
}

/// Per-process outcome: a tally per check and the findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub checks: Tallies,
    pub findings: Vec<Finding>,
    /// VMAs in the walked tree.
    pub vmas: u64,
    /// Point lookups and gap searches compared.
    pub lookups: u64,
}

impl Report {
    /// Count `n` items as checked for `check` (creating its row).
    pub fn checked(&mut self, check: &'static str, n: u64) {
        self.checks.entry(check).checked += n;
    }

    /// Record a failure of `check` (the failing item counts as checked).
    pub fn fail(
        &mut self,
        check: &'static str,
        node: u64,
        field: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) {
        let t = self.checks.entry(check);
        t.failed += 1;
        t.checked += 1;
        self.findings.push(Finding {
            check,
            node,
            field: field.into(),
            expected: expected.into(),
            actual: actual.into(),
        });
    }

    /// One item of `check`: passes when `ok`, else a finding.
    pub fn expect(
        &mut self,
        check: &'static str,
        ok: bool,
        node: u64,
        field: impl Into<String>,
        expected: impl FnOnce() -> String,
        actual: impl FnOnce() -> String,
    ) {
        if ok {
            self.checked(check, 1);
        } else {
            self.fail(check, node, field, expected(), actual());
        }
    }

    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    pub fn merge(&mut self, other: Report) {
        for (k, v) in other.checks.0 {
            let t = self.checks.entry(k);
            t.checked += v.checked;
            t.failed += v.failed;
        }
        self.findings.extend(other.findings);
        self.vmas += other.vmas;
        self.lookups += other.lookups;
    }
}

/// The `vm_area_struct` fields the checks read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmaFields {
    pub vm_start: u64,
    pub vm_end: u64,
    pub vm_mm: u64,
    pub vm_flags: u64,
}

/// Reads VMA fields by `vm_area_struct` address (memory plus probed offsets in
/// the CLI; a table in tests).
pub trait VmaSource {
    fn vma(&self, addr: u64) -> Result<VmaFields, String>;
}

/// `find_vma()` answered by walking the raw structure in memory, the way the
/// kernel descends: `(vm_start, vm_end, vma address)` of the first VMA with
/// `vm_end > addr`.
pub trait RawLookup {
    fn find_vma(&self, addr: u64) -> Result<Option<(u64, u64, u64)>, String>;
}

/// What the mm says about its tree, read beside the snapshot.
#[derive(Debug, Clone, Default)]
pub struct MmFacts {
    /// `struct mm_struct` address.
    pub mm: u64,
    pub map_count: u64,
    /// `mm->highest_vm_end` (kernels before 6.1).
    pub highest_vm_end: Option<u64>,
    /// The kernel variable `stack_guard_gap` (bytes).
    pub stack_guard_gap: u64,
    /// Highest user address + 1 (`TASK_SIZE`: 4- or 5-level paging).
    pub task_size: u64,
    /// `mm->vmacache_seqnum` (5.10).
    pub vmacache_seqnum: Option<u64>,
    /// Every thread's `task->vmacache` (5.10).
    pub vmacaches: Vec<ThreadVmacache>,
}

/// One thread's `struct vmacache` (removed in 6.1).
#[derive(Debug, Clone)]
pub struct ThreadVmacache {
    pub tid: i64,
    pub task: u64,
    pub seqnum: u64,
    pub vmas: Vec<u64>,
}

/// Format a value as the findings show addresses.
pub(crate) fn hex(v: u64) -> String {
    format!("{v:#x}")
}
