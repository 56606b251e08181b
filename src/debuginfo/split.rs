//! Split DWARF (`-gsplit-dwarf`): the file holds only skeleton units, each naming the `.dwo`
//! file (DW_AT_dwo_name / DW_AT_GNU_dwo_name, relative to DW_AT_comp_dir) and the id of the
//! unit with the types; a `.dwp` package next to the file gathers all of them.
//!
//! The split units are copied into one set of sections in the file's unit order, their
//! abbreviation offsets and string offsets rebased, so that everything above reads one file.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use gimli::{constants as dw, AttributeValue, IndexSectionId, LittleEndian, UnitType};
use object::{Object, ObjectSection};

use super::sections::{DebugInfoError, DwarfFile, SplitSections, UnitSpan};

/// What a skeleton unit says about its split half.
struct Skeleton {
    dwo_name: PathBuf,
    comp_dir: Option<PathBuf>,
    dwo_id: Option<u64>,
}

/// The `.dwo` sections of a `.dwo` file or `.dwp` package, read into memory.
struct DwoFile {
    info: Vec<u8>,
    abbrev: Vec<u8>,
    str_: Vec<u8>,
    str_offsets: Vec<u8>,
    cu_index: Vec<u8>,
}

impl DwoFile {
    fn read(path: &Path) -> Result<DwoFile, DebugInfoError> {
        let bytes = crate::input::read_regular(path).map_err(|source| DebugInfoError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let obj = object::File::parse(&*bytes).map_err(|e| DebugInfoError::NotElf {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let sec = |name: &'static str| -> Result<Vec<u8>, DebugInfoError> {
            match obj.section_by_name(name) {
                None => Ok(Vec::new()),
                Some(s) => s.uncompressed_data().map(|d| d.into_owned()).map_err(|e| {
                    DebugInfoError::Compressed {
                        path: path.to_path_buf(),
                        section: name,
                        reason: e.to_string(),
                    }
                }),
            }
        };
        Ok(DwoFile {
            info: sec(".debug_info.dwo")?,
            abbrev: sec(".debug_abbrev.dwo")?,
            str_: sec(".debug_str.dwo")?,
            str_offsets: sec(".debug_str_offsets.dwo")?,
            cu_index: sec(".debug_cu_index")?,
        })
    }
}

/// The skeleton behind a unit of `file`, if it is one.
fn skeleton(file: &DwarfFile, span: UnitSpan) -> Result<Option<Skeleton>, DebugInfoError> {
    let header = file.unit_header(span.start)?;
    let abbrevs = file.abbreviations_uncached(&header)?;
    let base = file.str_base(&header, &abbrevs)?;
    let mut entries = header.entries(&abbrevs);
    let Some((_, root)) = entries
        .next_dfs()
        .map_err(|e| file.bad(span.start, format!("unit DIE: {e}")))?
    else {
        return Ok(None);
    };
    let mut dwo_id = match header.type_() {
        UnitType::Skeleton(id) => Some(id.0),
        _ => None,
    };
    let (mut name, mut comp_dir) = (None, None);
    let mut attrs = root.attrs();
    while let Some(a) = attrs
        .next()
        .map_err(|e| file.bad(span.start, e.to_string()))?
    {
        let path = || {
            file.attr_str(&a.value(), base)
                .map(|b| PathBuf::from(OsStr::from_bytes(b)))
        };
        match a.name() {
            dw::DW_AT_dwo_name | dw::DW_AT_GNU_dwo_name => name = path(),
            dw::DW_AT_comp_dir => comp_dir = path(),
            dw::DW_AT_GNU_dwo_id => {
                if let AttributeValue::DwoId(id) = a.value() {
                    dwo_id = Some(id.0);
                }
            }
            _ => {}
        }
    }
    Ok(name.map(|dwo_name| Skeleton {
        dwo_name,
        comp_dir,
        dwo_id,
    }))
}

/// Where a `.dwo` may be: as named under the unit's compilation directory, then next to the
/// file (by the name, then by its base name), since build trees move.
fn dwo_candidates(file: &Path, sk: &Skeleton) -> Vec<PathBuf> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut v = Vec::new();
    if let Some(c) = &sk.comp_dir {
        v.push(c.join(&sk.dwo_name));
    }
    v.push(dir.join(&sk.dwo_name));
    if let Some(b) = sk.dwo_name.file_name() {
        v.push(dir.join(b));
    }
    v.dedup();
    v
}

/// The merged sections being assembled, starting from the file's own.
struct Merge<'a> {
    file: &'a DwarfFile,
    out: SplitSections,
    /// where each `.dwo`/`.dwp` string table landed in the merged `.debug_str`
    str_at: HashMap<PathBuf, u64>,
}

impl Merge<'_> {
    /// Append one split unit (its bytes and its section contributions) from `src`.
    fn push_unit(
        &mut self,
        src_path: &Path,
        src: &DwoFile,
        unit: &[u8],
        abbrev: &[u8],
        str_offsets: &[u8],
    ) -> Result<(), DebugInfoError> {
        let bad = |why: &str| self.file.bad(0, format!("{}: {why}", src_path.display()));
        let str_base = match self.str_at.get(src_path) {
            Some(b) => *b,
            None => {
                let b = self.out.str_.len() as u64;
                self.out.str_.extend_from_slice(&src.str_);
                self.str_at.insert(src_path.to_path_buf(), b);
                b
            }
        };
        let version = unit.get(4..6).map(|v| u16::from_le_bytes([v[0], v[1]]));
        if unit.get(..4) == Some(&[0xff; 4]) || !matches!(version, Some(2..=5)) {
            return Err(bad("64-bit or unknown-version split unit"));
        }
        let abbrev_at = if version == Some(5) { 8 } else { 6 };
        let abbrev_base = u32::try_from(self.out.abbrev.len()).map_err(|_| bad("too large"))?;
        self.out.abbrev.extend_from_slice(abbrev);
        // string offsets: past the DWARF 5 contribution header, each entry rebased
        let header = if version == Some(5) { 8 } else { 0 };
        let so_base = self.out.str_offsets.len() as u64;
        let mut so = str_offsets.to_vec();
        let skip = header.min(so.len());
        for e in so.get_mut(skip..).unwrap_or(&mut []).chunks_exact_mut(4) {
            let v = u64::from(u32::from_le_bytes([e[0], e[1], e[2], e[3]])) + str_base;
            let v = u32::try_from(v).map_err(|_| bad("strings past 4 GiB"))?;
            e.copy_from_slice(&v.to_le_bytes());
        }
        self.out.str_offsets.extend_from_slice(&so);
        let start = self.out.info.len() as u64;
        let mut u = unit.to_vec();
        let field = u
            .get_mut(abbrev_at..abbrev_at + 4)
            .ok_or_else(|| bad("truncated unit header"))?;
        let orig = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
        let patched = orig
            .checked_add(abbrev_base)
            .ok_or_else(|| bad("too large"))?;
        field.copy_from_slice(&patched.to_le_bytes());
        self.out.info.extend_from_slice(&u);
        let base = gimli::DebugStrOffsetsBase((so_base + header as u64) as usize);
        self.out
            .bases
            .insert(start, Some((gimli::Format::Dwarf32, base)));
        Ok(())
    }
}

/// The split unit with `id` in a `.dwp` package: its unit bytes and section contributions.
fn from_dwp(dwp: &DwoFile, id: u64) -> Option<(&[u8], &[u8], &[u8])> {
    let index = gimli::DebugCuIndex::new(&dwp.cu_index, LittleEndian)
        .index()
        .ok()?;
    let row = index.find(id)?;
    let (mut info, mut abbrev, mut so) = (None, &[][..], &[][..]);
    for s in index.sections(row).ok()? {
        let r = s.offset as usize..(s.offset as usize).checked_add(s.size as usize)?;
        match s.section {
            IndexSectionId::DebugInfo => info = dwp.info.get(r),
            IndexSectionId::DebugAbbrev => abbrev = dwp.abbrev.get(r)?,
            IndexSectionId::DebugStrOffsets => so = dwp.str_offsets.get(r)?,
            _ => {}
        }
    }
    Some((info?, abbrev, so))
}

/// The first unit of a `.dwo` file's `.debug_info.dwo` with `id` (any unit without an id).
fn from_dwo(dwo: &DwoFile, id: Option<u64>) -> Option<&[u8]> {
    let info = gimli::DebugInfo::new(&dwo.info, LittleEndian);
    let mut units = info.units();
    while let Ok(Some(h)) = units.next() {
        let at = h.offset().as_debug_info_offset()?.0;
        let unit = dwo
            .info
            .get(at..at.checked_add(h.length_including_self())?)?;
        let uid = match h.type_() {
            UnitType::SplitCompilation(d) => Some(d.0),
            _ => None,
        };
        if id.is_none() || uid.is_none() || uid == id {
            return Some(unit);
        }
    }
    None
}

/// If `file` is made of skeleton units, read its types from their split halves (`.dwp` next
/// to it, else the `.dwo` files); a missing one is an error naming it. Only the first unit is
/// looked at to decide, so that files without split DWARF pay one DIE.
pub(crate) fn attach_split(file: &mut DwarfFile) -> Result<(), DebugInfoError> {
    let Some(first) = file.unit_spans_iter().next() else {
        return Ok(());
    };
    if skeleton(file, first)?.is_none() {
        return Ok(());
    }
    let mut dwp_path = file.path().as_os_str().to_owned();
    dwp_path.push(".dwp");
    let dwp_path = PathBuf::from(dwp_path);
    let dwp = match dwp_path.is_file() {
        true => Some(DwoFile::read(&dwp_path)?),
        false => None,
    };
    let [info, abbrev, str_, str_offsets] = file.own_sections()?;
    let mut m = Merge {
        file,
        out: SplitSections {
            info: Vec::with_capacity(info.len()),
            abbrev: abbrev.to_vec(),
            str_: str_.to_vec(),
            str_offsets: str_offsets.to_vec(),
            bases: HashMap::new(),
        },
        str_at: HashMap::new(),
    };
    let mut opened: HashMap<PathBuf, DwoFile> = HashMap::new();
    for span in file.units()? {
        let Some(sk) = skeleton(file, *span)? else {
            let own = info
                .get(span.start as usize..span.end as usize)
                .unwrap_or(&[]);
            m.out.info.extend_from_slice(own);
            continue;
        };
        if let (Some(dwp), Some(id)) = (&dwp, sk.dwo_id) {
            let (unit, ab, so) = from_dwp(dwp, id).ok_or_else(|| {
                file.bad(
                    span.start,
                    format!("split unit {id:#x} not in {}", dwp_path.display()),
                )
            })?;
            m.push_unit(&dwp_path, dwp, unit, ab, so)?;
            continue;
        }
        let tried = dwo_candidates(file.path(), &sk);
        let Some(path) = tried.iter().find(|p| p.is_file()) else {
            let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
            return Err(file.bad(
                span.start,
                format!(
                    "split DWARF: {} not found (looked at {}, and for {})",
                    sk.dwo_name.display(),
                    list.join(", "),
                    dwp_path.display()
                ),
            ));
        };
        if !opened.contains_key(path) {
            opened.insert(path.clone(), DwoFile::read(path)?);
        }
        let Some(dwo) = opened.get(path) else {
            continue;
        };
        let unit = from_dwo(dwo, sk.dwo_id)
            .ok_or_else(|| file.bad(span.start, format!("no unit in {}", path.display())))?;
        m.push_unit(path, dwo, unit, &dwo.abbrev, &dwo.str_offsets)?;
    }
    let out = m.out;
    file.use_split(out);
    Ok(())
}
