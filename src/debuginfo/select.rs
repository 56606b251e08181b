//! Which debug information a command reads, decided in one place for every command.
//!
//! Two purposes, two preferences:
//! - layouts (`vmscope layout`): the running kernel's BTF first (always present on
//!   modern kernels, quick to load), then its installed debug vmlinux;
//! - memory (every command that reads a dump or /proc/kcore): symbols must be the
//!   ones of the kernel looked at, so the DWARF vmlinux first; the running kernel's
//!   BTF (symbols then come from /proc/kallsyms) only live, without `--vmlinux`, and
//!   when no debug vmlinux is installed.

use super::btf::{BtfDb, BtfError};
use super::dwarf::{DebugInfoError, OpenOptions, TypeDb};
use super::find::{find_vmlinux, Wanted};
use crate::types::model::{NameKind, Type, TypeError, TypeId, TypeSource};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The running kernel's BTF.
pub const SYS_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Where distributions install the debug vmlinux of a release.
pub fn debug_vmlinux(release: &str) -> PathBuf {
    PathBuf::from(format!("/usr/lib/debug/boot/vmlinux-{release}"))
}

/// What the types are for (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Layouts,
    Memory,
}

/// What the user gave and what the command looks at.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub purpose: Purpose,
    pub vmlinux: Option<&'a Path>,
    pub btf: Option<&'a Path>,
    /// A dump is read (not the running kernel).
    pub dump: bool,
    /// The running kernel's release (`uname -r`), if known.
    pub running_release: Option<&'a str>,
    /// The running kernel's build-id (/sys/kernel/notes), if readable.
    pub running_build_id: Option<&'a str>,
    /// The dumped kernel's release and build-id (from VMCOREINFO), if known.
    pub dump_kernel: Option<Wanted<'a>>,
    /// Debug roots searched for the dump's vmlinux (`/`, `--debug-dir`, VMSCOPE_DEBUG_DIRS).
    pub debug_roots: &'a [PathBuf],
}

/// The file the types come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeFile {
    Dwarf(PathBuf),
    Btf(PathBuf),
    /// The running kernel's BTF, for lack of its debug vmlinux (`missing`; `searched`:
    /// what the search by build-id looked at); memory commands then take symbols from
    /// /proc/kallsyms.
    RunningBtf {
        missing: PathBuf,
        searched: String,
    },
    /// A dump's own BTF, read from its memory (with its own kallsyms), for lack of
    /// its vmlinux (`searched`: what the search looked at, for messages).
    DumpMemory {
        searched: String,
    },
}

impl TypeFile {
    /// The file read, for messages.
    pub fn path(&self) -> &Path {
        match self {
            TypeFile::Dwarf(p) | TypeFile::Btf(p) => p,
            TypeFile::RunningBtf { .. } => Path::new(SYS_BTF),
            TypeFile::DumpMemory { .. } => Path::new("(dump memory)"),
        }
    }
}

#[derive(Debug, Error)]
pub enum SelectError {
    #[error("--vmlinux and --btf cannot be used together")]
    Both,
    #[error("no type information: {SYS_BTF} is missing and no debug vmlinux was found; use --vmlinux FILE or --btf FILE")]
    NoLayoutTypes,
    #[error("{}: no such file, and no {SYS_BTF} (kernel without CONFIG_DEBUG_INFO_BTF); pass --vmlinux FILE (the running kernel's DWARF vmlinux)", .vmlinux.display())]
    NoRunningTypes { vmlinux: PathBuf },
    #[error("the dump's own types are read with the dump (internal)")]
    InDump,
    #[error(transparent)]
    Dwarf(#[from] DebugInfoError),
    #[error(transparent)]
    Btf(#[from] BtfError),
}

/// Decide where the types come from.
pub fn select(r: &Request<'_>) -> Result<TypeFile, SelectError> {
    if r.btf.is_some() && r.vmlinux.is_some() {
        return Err(SelectError::Both);
    }
    if let Some(p) = r.btf {
        return Ok(TypeFile::Btf(p.to_path_buf()));
    }
    if let Some(p) = r.vmlinux {
        return Ok(TypeFile::Dwarf(p.to_path_buf()));
    }
    if r.dump {
        let Some(w) = r.dump_kernel else {
            return Ok(TypeFile::DumpMemory {
                searched: "the dump names no release, no vmlinux searched".into(),
            });
        };
        let s = find_vmlinux(r.debug_roots, &w);
        return Ok(match s.found {
            Some(p) => TypeFile::Dwarf(p),
            None => TypeFile::DumpMemory {
                searched: s.summary(),
            },
        });
    }
    let installed = debug_vmlinux(r.running_release.unwrap_or_default());
    match r.purpose {
        Purpose::Layouts => {
            if Path::new(SYS_BTF).exists() {
                Ok(TypeFile::Btf(SYS_BTF.into()))
            } else if r.running_release.is_some() && installed.exists() {
                Ok(TypeFile::Dwarf(installed))
            } else {
                Err(SelectError::NoLayoutTypes)
            }
        }
        Purpose::Memory => Ok(
            running_vmlinux(r).unwrap_or_else(|searched| TypeFile::RunningBtf {
                missing: installed,
                searched,
            }),
        ),
    }
}

/// Live: the running kernel's vmlinux under the debug roots (`/` when none are given),
/// by its build-id as for a dump; else what was searched, for messages.
fn running_vmlinux(r: &Request<'_>) -> Result<TypeFile, String> {
    let Some(release) = r.running_release else {
        return Err("the running kernel's release is unknown".into());
    };
    let slash = [PathBuf::from("/")];
    let roots = if r.debug_roots.is_empty() {
        &slash[..]
    } else {
        r.debug_roots
    };
    let w = Wanted {
        release,
        build_id: r.running_build_id,
    };
    let s = find_vmlinux(roots, &w);
    match s.found {
        Some(p) => Ok(TypeFile::Dwarf(p)),
        None => Err(s.summary()),
    }
}

/// How to load the chosen file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Cacheline size the BTF model reports (0: the model's default).
    pub cacheline_size: u32,
    pub dwarf: OpenOptions,
    /// The base of a split `--btf` file (a module's); without it a split file is opened on
    /// the running kernel's BTF.
    pub btf_base: Option<PathBuf>,
}

/// Types of the kernel looked at: DWARF from a vmlinux or BTF.
pub enum KernelTypes {
    Dwarf(Box<TypeDb>),
    Btf(Box<BtfDb>),
}

impl TypeFile {
    /// Load the type model.
    pub fn load(&self, o: LoadOptions) -> Result<KernelTypes, SelectError> {
        match self {
            TypeFile::Dwarf(p) => Ok(KernelTypes::Dwarf(Box::new(TypeDb::open_with(p, o.dwarf)?))),
            TypeFile::Btf(p) => Ok(KernelTypes::Btf(Box::new(open_btf(
                p,
                o.btf_base.as_deref(),
                o.cacheline_size,
            )?))),
            TypeFile::RunningBtf { missing, .. } => {
                if !Path::new(SYS_BTF).exists() {
                    return Err(SelectError::NoRunningTypes {
                        vmlinux: missing.clone(),
                    });
                }
                TypeFile::Btf(SYS_BTF.into()).load(o)
            }
            TypeFile::DumpMemory { .. } => Err(SelectError::InDump),
        }
    }
}

/// BTF of `path`, split on `base` when given; a split file given alone is opened on the
/// running kernel's BTF when there is one (as `/sys/kernel/btf/MOD` always is).
fn open_btf(path: &Path, base: Option<&Path>, cacheline: u32) -> Result<BtfDb, BtfError> {
    if let Some(base) = base {
        return BtfDb::open_split(path, base, cacheline);
    }
    match BtfDb::open(path, cacheline) {
        Err(e) if e.needs_base() && path != Path::new(SYS_BTF) && Path::new(SYS_BTF).exists() => {
            BtfDb::open_split(path, Path::new(SYS_BTF), cacheline)
        }
        other => other,
    }
}

impl KernelTypes {
    fn inner(&self) -> &dyn TypeSource {
        match self {
            KernelTypes::Dwarf(t) => &**t,
            KernelTypes::Btf(t) => &**t,
        }
    }
}

/// Every method forwarded, the provided ones too: DWARF and BTF override them
/// (composites, definition order) and the printers rely on their answers.
impl TypeSource for KernelTypes {
    fn get(&self, id: TypeId) -> Result<&Type, TypeError> {
        self.inner().get(id)
    }
    fn find(&self, name: &str, kind: NameKind) -> Result<Option<TypeId>, TypeError> {
        self.inner().find(name, kind)
    }
    fn find_base(&self, name: &str) -> Result<Option<TypeId>, TypeError> {
        self.inner().find_base(name)
    }
    fn pointer_size(&self) -> u64 {
        self.inner().pointer_size()
    }
    fn has_alignment_info(&self) -> bool {
        self.inner().has_alignment_info()
    }
    fn array_dimensions_nested(&self) -> bool {
        self.inner().array_dimensions_nested()
    }
    fn composite_names(&self) -> Result<Vec<String>, TypeError> {
        self.inner().composite_names()
    }
    fn composites(&self) -> Result<Vec<(String, TypeId)>, TypeError> {
        self.inner().composites()
    }
    fn variable_type(&self, name: &str) -> Result<Option<TypeId>, TypeError> {
        self.inner().variable_type(name)
    }
    fn all_type_names(&self) -> Result<Vec<String>, TypeError> {
        self.inner().all_type_names()
    }
    fn definition_order(&self, id: TypeId) -> u64 {
        self.inner().definition_order(id)
    }
    fn find_from(
        &self,
        name: &str,
        kind: NameKind,
        from: u64,
    ) -> Result<Option<TypeId>, TypeError> {
        self.inner().find_from(name, kind, from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(purpose: Purpose) -> Request<'static> {
        Request {
            purpose,
            vmlinux: None,
            btf: None,
            dump: false,
            running_release: Some("0.0.0-no-such-release"),
            running_build_id: None,
            dump_kernel: None,
            debug_roots: &[],
        }
    }

    #[test]
    fn given_files_win_for_every_purpose() {
        for purpose in [Purpose::Layouts, Purpose::Memory] {
            let mut r = req(purpose);
            r.vmlinux = Some(Path::new("/x/vmlinux"));
            assert_eq!(select(&r).unwrap(), TypeFile::Dwarf("/x/vmlinux".into()));
            r.btf = Some(Path::new("/x/btf"));
            assert!(matches!(select(&r), Err(SelectError::Both)));
            r.vmlinux = None;
            assert_eq!(select(&r).unwrap(), TypeFile::Btf("/x/btf".into()));
        }
    }

    #[test]
    fn memory_prefers_the_debug_vmlinux_and_falls_back_to_running_btf_only_live() {
        let missing = debug_vmlinux("0.0.0-no-such-release");
        let mut r = req(Purpose::Memory);
        match select(&r).unwrap() {
            TypeFile::RunningBtf {
                missing: m,
                searched,
            } => {
                assert_eq!(m, missing);
                assert!(
                    searched.starts_with("no matching vmlinux in 4 places"),
                    "{searched}"
                );
            }
            other => panic!("{other:?}"),
        }
        r.dump = true;
        assert!(matches!(select(&r).unwrap(), TypeFile::DumpMemory { .. }));
        r.purpose = Purpose::Layouts;
        assert!(matches!(select(&r).unwrap(), TypeFile::DumpMemory { .. }));
        let _ = missing;
    }

    #[test]
    fn layouts_prefer_the_running_btf() {
        let got = select(&req(Purpose::Layouts));
        if Path::new(SYS_BTF).exists() {
            assert_eq!(got.unwrap(), TypeFile::Btf(SYS_BTF.into()));
        } else {
            assert!(matches!(got, Err(SelectError::NoLayoutTypes)));
        }
    }
}
