//! Source locations of code addresses: the line table row and the chain of inlined calls
//! at a link-time pc, from `.debug_line` and the unit's subprogram / inlined-subroutine DIEs.
//!
//! Lazy: the address-to-unit map comes from `.debug_aranges` (gcc writes one entry set
//! per unit) and, for units it leaves out (clang writes none), from each remaining
//! unit's root DIE ranges. Only the units holding the pcs asked for are parsed, each
//! once; answers are cached per pc (a `bt --all` asks for `schedule` hundreds of times).

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;

use gimli::{constants as dw, AttributeValue, DebugInfoOffset, Unit, UnitOffset};

use super::sections::{DebugInfoError, DwarfFile, Slice};
use super::TypeDb;

/// A source position: the path the line table names (directory joined) and the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLoc {
    pub file: String,
    pub line: u64,
}

/// What the debug info says about one pc.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceAt {
    /// The functions inlined at pc, innermost first, each with the position in it: the
    /// innermost one's is the line table's row, an outer one's the call site of the
    /// function it inlined.
    pub inlined: Vec<(String, Option<SourceLoc>)>,
    /// The out-of-line function holding pc (its DWARF name), if a subprogram covers pc.
    pub function: Option<String>,
    /// The position in that function: the call site of the outermost inlined call, or
    /// the line table's row when nothing is inlined there.
    pub loc: Option<SourceLoc>,
}

/// Bound on the DIE depth followed while looking for the innermost inlined call.
const MAX_DEPTH: usize = 64;

/// One unit ready for lookups: parsed header and its line table rows, sorted.
struct UnitLines<'a> {
    unit: Unit<Slice<'a>>,
    /// (address, file index, line); line 0 marks the end of a sequence.
    rows: Vec<(u64, u64, u64)>,
    files: RefCell<HashMap<u64, Option<String>>>,
}

/// Source lookups over one DWARF file.
pub struct Sources<'a> {
    file: &'a DwarfFile,
    dwarf: gimli::Dwarf<Slice<'a>>,
    /// (start, end, unit offset) sorted by start.
    ranges: OnceCell<Vec<(u64, u64, u64)>>,
    units: RefCell<HashMap<u64, Option<std::rc::Rc<UnitLines<'a>>>>>,
    answers: RefCell<HashMap<u64, Option<SourceAt>>>,
    /// The first bad DWARF met: lookups go on without it, the caller warns once.
    error: RefCell<Option<DebugInfoError>>,
}

impl TypeDb {
    /// Source lookups in this file's DWARF (line tables and inlined calls).
    pub fn sources(&self) -> Sources<'_> {
        Sources::new(self.dwarf_file())
    }
}

impl<'a> Sources<'a> {
    pub(crate) fn new(file: &'a DwarfFile) -> Self {
        // sections that do not read (compressed, corrupt) leave every lookup empty, and say why
        let (dwarf, error) = match file.gimli_dwarf() {
            Ok(d) => (d, None),
            Err(e) => (gimli::Dwarf::default(), Some(e)),
        };
        Sources {
            file,
            dwarf,
            ranges: OnceCell::new(),
            units: RefCell::new(HashMap::new()),
            answers: RefCell::new(HashMap::new()),
            error: RefCell::new(error),
        }
    }

    /// The source position and inlined calls at link-time address `pc`; None when no
    /// unit covers it or its DWARF is bad (see [`Self::first_error`]).
    pub fn source_at(&self, pc: u64) -> Option<SourceAt> {
        if let Some(a) = self.answers.borrow().get(&pc) {
            return a.clone();
        }
        let found = self.try_source_at(pc).unwrap_or_else(|e| {
            self.error.borrow_mut().get_or_insert(e);
            None
        });
        self.answers.borrow_mut().insert(pc, found.clone());
        found
    }

    /// The first error a lookup met (it names the unit's `.debug_info` offset).
    pub fn first_error(&self) -> Option<String> {
        self.error.borrow().as_ref().map(|e| e.to_string())
    }

    fn try_source_at(&self, pc: u64) -> Result<Option<SourceAt>, DebugInfoError> {
        match self.unit_at(pc)? {
            Some(u) => Ok(Some(self.lookup(&u, pc)?)),
            None => Ok(None),
        }
    }

    fn unit_at(&self, pc: u64) -> Result<Option<std::rc::Rc<UnitLines<'a>>>, DebugInfoError> {
        let ranges = match self.ranges.get() {
            Some(r) => r,
            // A failure is met once: later lookups find no unit.
            None => match self.read_ranges() {
                Ok(r) => self.ranges.get_or_init(|| r),
                Err(e) => {
                    self.ranges.get_or_init(Vec::new);
                    return Err(e);
                }
            },
        };
        let i = ranges.partition_point(|r| r.0 <= pc);
        // Ranges may nest or overlap (a unit's hole filled by another): look back a little.
        let hit = ranges[..i]
            .iter()
            .rev()
            .take(8)
            .find(|r| pc < r.1)
            .map(|r| r.2);
        let Some(offset) = hit else { return Ok(None) };
        if let Some(u) = self.units.borrow().get(&offset) {
            return Ok(u.clone());
        }
        let (kept, err) = match self.load_unit(offset) {
            Ok(u) => (u.map(std::rc::Rc::new), None),
            Err(e) => (None, Some(e)),
        };
        self.units.borrow_mut().insert(offset, kept.clone());
        match err {
            Some(e) => Err(e),
            None => Ok(kept),
        }
    }

    /// Address ranges of every unit: `.debug_aranges`, then root DIEs of units it omits.
    fn read_ranges(&self) -> Result<Vec<(u64, u64, u64)>, DebugInfoError> {
        let mut out = Vec::new();
        let mut listed = std::collections::HashSet::new();
        let mut headers = self.dwarf.debug_aranges.headers();
        while let Ok(Some(h)) = headers.next() {
            let unit = h.debug_info_offset().0 as u64;
            let mut entries = h.entries();
            while let Ok(Some(e)) = entries.next() {
                if e.length() > 0 {
                    listed.insert(unit);
                    out.push((e.address(), e.address().saturating_add(e.length()), unit));
                }
            }
        }
        for span in self.file.units()? {
            if listed.contains(&span.start) {
                continue;
            }
            let header = self.file.unit_header(span.start)?;
            let unit = self.parse_unit(span.start, header)?;
            let bad = |e: gimli::Error| self.file.bad(span.start, format!("unit ranges: {e}"));
            let mut it = self.dwarf.unit_ranges(&unit).map_err(bad)?;
            while let Some(r) = it.next().map_err(bad)? {
                if r.end > r.begin {
                    out.push((r.begin, r.end, span.start));
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    fn parse_unit(
        &self,
        offset: u64,
        header: gimli::UnitHeader<Slice<'a>>,
    ) -> Result<Unit<Slice<'a>>, DebugInfoError> {
        self.dwarf
            .unit(header)
            .map_err(|e| self.file.bad(offset, format!("unit: {e}")))
    }

    fn load_unit(&self, offset: u64) -> Result<Option<UnitLines<'a>>, DebugInfoError> {
        let off = usize::try_from(offset).map_err(|_| self.file.bad(offset, "offset"))?;
        let header = self
            .dwarf
            .debug_info
            .header_from_offset(DebugInfoOffset(off))
            .map_err(|e| self.file.bad(offset, format!("unit header: {e}")))?;
        let unit = self.parse_unit(offset, header)?;
        let mut rows = Vec::new();
        if let Some(program) = unit.line_program.clone() {
            let mut it = program.rows();
            let bad = |e: gimli::Error| self.file.bad(offset, format!("line program: {e}"));
            while let Some((_, row)) = it.next_row().map_err(bad)? {
                let line = if row.end_sequence() {
                    0
                } else {
                    row.line().map_or(0, |l| l.get()).max(1)
                };
                rows.push((row.address(), row.file_index(), line));
            }
        }
        // A sequence's end and the next one's start may share an address: end first.
        rows.sort_by_key(|r| (r.0, r.2 != 0));
        Ok(Some(UnitLines {
            unit,
            rows,
            files: RefCell::new(HashMap::new()),
        }))
    }

    fn lookup(&self, u: &UnitLines<'a>, pc: u64) -> Result<SourceAt, DebugInfoError> {
        let row = u.rows.partition_point(|r| r.0 <= pc).checked_sub(1);
        let here = row
            .map(|i| u.rows[i])
            .filter(|r| r.2 != 0)
            .and_then(|(_, file, line)| {
                Some(SourceLoc {
                    file: self.file_name(u, file)?,
                    line,
                })
            });
        let chain = self.chain(u, pc)?;
        let mut at = SourceAt::default();
        // chain is outermost first: the subprogram, then each inlined call within it.
        let mut loc = here;
        for link in chain.iter().rev() {
            if link.inlined {
                at.inlined.push((link.name.clone(), loc));
                loc = link
                    .call
                    .map(|(file, line)| {
                        self.file_name(u, file).map(|file| SourceLoc { file, line })
                    })
                    .unwrap_or(None);
            } else {
                at.function = Some(link.name.clone());
                break;
            }
        }
        at.loc = loc;
        Ok(at)
    }

    /// A file index of the unit's line program as a path (directory joined unless it is
    /// the compilation directory, as the kernel's build names its sources).
    fn file_name(&self, u: &UnitLines<'a>, index: u64) -> Option<String> {
        if let Some(f) = u.files.borrow().get(&index) {
            return f.clone();
        }
        let name = (|| {
            let header = u.unit.line_program.as_ref()?.header();
            let entry = header.file(index)?;
            let s = |v| {
                self.dwarf
                    .attr_string(&u.unit, v)
                    .ok()
                    .map(|s| String::from_utf8_lossy(s.slice()).into_owned())
            };
            let name = s(entry.path_name())?;
            let comp_dir_index = if header.version() >= 5 { 0 } else { u64::MAX };
            let dir_index = entry.directory_index();
            if name.starts_with('/') || dir_index == comp_dir_index || dir_index == 0 {
                return Some(name);
            }
            match entry.directory(header).and_then(s) {
                Some(d) if !d.is_empty() => Some(format!("{d}/{name}")),
                _ => Some(name),
            }
        })();
        u.files.borrow_mut().insert(index, name.clone());
        name
    }

    /// The subprogram covering pc and the inlined calls nested in it down to the
    /// innermost, outermost first. Sibling subtrees that do not cover pc are skipped.
    fn chain(&self, u: &UnitLines<'a>, pc: u64) -> Result<Vec<Link>, DebugInfoError> {
        let start = u
            .unit
            .header
            .offset()
            .as_debug_info_offset()
            .map_or(0, |o| o.0) as u64;
        let bad = |e: gimli::Error| self.file.bad(start, format!("DIEs: {e}"));
        let mut tree = u.unit.entries_tree(None).map_err(bad)?;
        let root = tree.root().map_err(bad)?;
        let mut chain = Vec::new();
        self.descend(u, root, pc, &mut chain).map_err(bad)?;
        Ok(chain)
    }

    /// Find the child of `node` covering pc, note it, and go on inside it.
    fn descend(
        &self,
        u: &UnitLines<'a>,
        node: gimli::EntriesTreeNode<'_, '_, '_, Slice<'a>>,
        pc: u64,
        chain: &mut Vec<Link>,
    ) -> gimli::Result<()> {
        if chain.len() >= MAX_DEPTH {
            return Ok(());
        }
        let mut children = node.children();
        while let Some(child) = children.next()? {
            let e = child.entry();
            let tag = e.tag();
            // Only code inside the function found so far can hold an inlined call.
            let wanted = match tag {
                dw::DW_TAG_subprogram => true,
                dw::DW_TAG_inlined_subroutine | dw::DW_TAG_lexical_block => !chain.is_empty(),
                _ => false,
            };
            if !wanted {
                continue;
            }
            let covers = self.covers(u, e, pc)?;
            // A lexical block without ranges: its children carry their own.
            let open_block = covers.is_none() && tag == dw::DW_TAG_lexical_block;
            if covers != Some(true) && !open_block {
                continue;
            }
            if tag != dw::DW_TAG_lexical_block {
                chain.push(Link {
                    name: self.die_name(u, e, 0).unwrap_or_else(|| "??".into()),
                    inlined: tag == dw::DW_TAG_inlined_subroutine,
                    call: call_site(e),
                });
            }
            let before = chain.len();
            self.descend(u, child, pc, chain)?;
            if !open_block || chain.len() > before {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Some(pc in the DIE's ranges), None when it has no address attributes.
    fn covers(
        &self,
        u: &UnitLines<'a>,
        e: &gimli::DebuggingInformationEntry<'_, '_, Slice<'a>>,
        pc: u64,
    ) -> gimli::Result<Option<bool>> {
        let has = e.attr(dw::DW_AT_low_pc)?.is_some() || e.attr(dw::DW_AT_ranges)?.is_some();
        if !has {
            return Ok(None);
        }
        let mut it = self.dwarf.die_ranges(&u.unit, e)?;
        while let Some(r) = it.next()? {
            if r.begin <= pc && pc < r.end {
                return Ok(Some(true));
            }
        }
        Ok(Some(false))
    }

    /// DW_AT_name, through DW_AT_abstract_origin / DW_AT_specification (bounded).
    fn die_name(
        &self,
        u: &UnitLines<'a>,
        e: &gimli::DebuggingInformationEntry<'_, '_, Slice<'a>>,
        depth: u32,
    ) -> Option<String> {
        if let Ok(Some(v)) = e.attr_value(dw::DW_AT_name) {
            let s = self.dwarf.attr_string(&u.unit, v).ok()?;
            return Some(String::from_utf8_lossy(s.slice()).into_owned());
        }
        if depth > 4 {
            return None;
        }
        for at in [dw::DW_AT_abstract_origin, dw::DW_AT_specification] {
            let target = match e.attr_value(at) {
                Ok(Some(AttributeValue::UnitRef(o))) => Some(o),
                Ok(Some(AttributeValue::DebugInfoRef(o))) => {
                    let base = u.unit.header.offset().as_debug_info_offset()?.0;
                    o.0.checked_sub(base).map(UnitOffset)
                }
                _ => None,
            };
            if let Some(o) = target {
                let origin = u.unit.entry(o).ok()?;
                return self.die_name(u, &origin, depth + 1);
            }
        }
        None
    }
}

/// One function on the way to pc.
struct Link {
    name: String,
    inlined: bool,
    /// (file index, line) of the call an inlined subroutine stands for.
    call: Option<(u64, u64)>,
}

fn call_site(e: &gimli::DebuggingInformationEntry<'_, '_, Slice<'_>>) -> Option<(u64, u64)> {
    let num = |at| match e.attr_value(at).ok()?? {
        AttributeValue::FileIndex(i) => Some(i),
        v => v.udata_value(),
    };
    Some((num(dw::DW_AT_call_file)?, num(dw::DW_AT_call_line)?))
}
