//! Path of a `struct path` (vfsmount + dentry) as `d_path()` builds it
//! (fs/d_path.c: `d_path`, `prepend_path`, `__prepend_path`), from raw memory.

use super::vma_layout::VmaLayout;
use crate::memory::{MemError, Memory};
use std::collections::HashMap;
use thiserror::Error;

/// A kernel object (VMA, dentry, name) that could not be read, or was read and
/// made no sense; shared by d_path() and the VMA reader.
#[derive(Debug, Error, Clone)]
pub enum ReadFault {
    #[error("reading {what} at {addr:#x}: {source}")]
    Read {
        what: &'static str,
        addr: u64,
        #[source]
        source: MemError,
    },
    #[error("{addr:#x}: {what}")]
    Corrupt { addr: u64, what: String },
}

/// NAME_MAX: no dentry name is longer.
const NAME_MAX: u32 = 255;
/// Bound on components (PATH_MAX 4096 / 2 bytes per shortest component).
const MAX_COMPONENTS: usize = 2048;

/// Runtime addresses of the `d_dname` implementations the renderer knows, looked up
/// in the vmlinux symbol table (0 = not present in this kernel).
#[derive(Debug, Clone, Copy, Default)]
pub struct DnameSymbols {
    pub pipefs_dname: u64,
    pub sockfs_dname: u64,
    pub anon_inodefs_dname: u64,
    pub simple_dname: u64,
}

/// Resolves paths relative to one root, caching results per (mnt, dentry).
pub struct PathResolver<'a> {
    mem: &'a dyn Memory,
    l: &'a VmaLayout,
    /// (vfsmount, dentry) of the reader's root (`fs->root`).
    root: (u64, u64),
    dname: DnameSymbols,
    cache: HashMap<(u64, u64), Vec<u8>>,
}

fn rd(mem: &dyn Memory, addr: u64, what: &'static str) -> Result<u64, ReadFault> {
    mem.read_u64(addr)
        .map_err(|source| ReadFault::Read { what, addr, source })
}

/// Read `len` bytes of a dentry name at `addr`.
pub(crate) fn read_name(mem: &dyn Memory, addr: u64, len: u32) -> Result<Vec<u8>, ReadFault> {
    if len > NAME_MAX {
        return Err(ReadFault::Corrupt {
            addr,
            what: format!("dentry name length {len} exceeds NAME_MAX"),
        });
    }
    let mut buf = vec![0u8; len as usize];
    mem.read(addr, &mut buf).map_err(|source| ReadFault::Read {
        what: "dentry name",
        addr,
        source,
    })?;
    Ok(buf)
}

impl<'a> PathResolver<'a> {
    pub fn new(
        mem: &'a dyn Memory,
        l: &'a VmaLayout,
        root: (u64, u64),
        dname: DnameSymbols,
    ) -> Self {
        PathResolver {
            mem,
            l,
            root,
            dname,
            cache: HashMap::new(),
        }
    }

    fn d_name(&self, dentry: u64) -> Result<Vec<u8>, ReadFault> {
        let len = self
            .mem
            .read_u32(dentry.wrapping_add(self.l.d_name_len))
            .map_err(|source| ReadFault::Read {
                what: "dentry.d_name.len",
                addr: dentry,
                source,
            })?;
        let name = rd(
            self.mem,
            dentry.wrapping_add(self.l.d_name_name),
            "dentry.d_name.name",
        )?;
        read_name(self.mem, name, len)
    }

    fn d_parent(&self, dentry: u64) -> Result<u64, ReadFault> {
        rd(
            self.mem,
            dentry.wrapping_add(self.l.d_parent),
            "dentry.d_parent",
        )
    }

    fn inode_ino(&self, dentry: u64) -> Result<u64, ReadFault> {
        let inode = rd(
            self.mem,
            dentry.wrapping_add(self.l.d_inode),
            "dentry.d_inode",
        )?;
        rd(self.mem, inode.wrapping_add(self.l.i_ino), "inode.i_ino")
    }

    /// `d_path()` for (vfsmount, dentry), bytes as the kernel would write them
    /// (before `seq_file_path`'s escaping).
    pub fn d_path(&mut self, vfsmnt: u64, dentry: u64) -> Result<Vec<u8>, ReadFault> {
        if let Some(p) = self.cache.get(&(vfsmnt, dentry)) {
            return Ok(p.clone());
        }
        let p = self.d_path_uncached(vfsmnt, dentry)?;
        self.cache.insert((vfsmnt, dentry), p.clone());
        Ok(p)
    }

    fn d_path_uncached(&self, vfsmnt: u64, dentry: u64) -> Result<Vec<u8>, ReadFault> {
        let l = self.l;
        let parent = self.d_parent(dentry)?;
        let is_root = parent == dentry;
        let mnt_root = rd(
            self.mem,
            vfsmnt.wrapping_add(l.mnt_root),
            "vfsmount.mnt_root",
        )?;
        // Pseudo filesystems name their dentries through d_op->d_dname.
        let d_op = rd(self.mem, dentry.wrapping_add(l.d_op), "dentry.d_op")?;
        if d_op != 0 {
            let dname = rd(
                self.mem,
                d_op.wrapping_add(l.d_dname),
                "dentry_operations.d_dname",
            )?;
            if dname != 0 && (!is_root || dentry != mnt_root) {
                return self.dynamic_dname(dname, dentry);
            }
        }
        // d_unlinked(): unhashed and not a filesystem root.
        let pprev = rd(
            self.mem,
            dentry.wrapping_add(l.d_hash_pprev),
            "dentry.d_hash.pprev",
        )?;
        let deleted = pprev == 0 && !is_root;

        let mut comps: Vec<Vec<u8>> = Vec::new();
        let mut mount = vfsmnt.wrapping_sub(l.mount_mnt);
        let mut mnt = vfsmnt;
        let mut d = dentry;
        let mut steps = 0usize;
        while !(d == self.root.1 && mnt == self.root.0) {
            steps += 1;
            if steps > MAX_COMPONENTS {
                return Err(ReadFault::Corrupt {
                    addr: dentry,
                    what: "dentry chain too long (cycle?)".into(),
                });
            }
            let mroot = rd(self.mem, mnt.wrapping_add(l.mnt_root), "vfsmount.mnt_root")?;
            if d == mroot {
                let m = rd(
                    self.mem,
                    mount.wrapping_add(l.mnt_parent),
                    "mount.mnt_parent",
                )?;
                if m != mount {
                    d = rd(
                        self.mem,
                        mount.wrapping_add(l.mnt_mountpoint),
                        "mount.mnt_mountpoint",
                    )?;
                    mount = m;
                    mnt = m.wrapping_add(l.mount_mnt);
                    continue;
                }
                // Global root or a detached/internal mount: keep what we have.
                break;
            }
            let parent = self.d_parent(d)?;
            if parent == d {
                // Escaped the root: the kernel discards the components.
                comps.clear();
                break;
            }
            comps.push(self.d_name(d)?);
            d = parent;
        }
        let mut out = Vec::new();
        for c in comps.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(c);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        if deleted {
            out.extend_from_slice(b" (deleted)");
        }
        Ok(out)
    }

    fn dynamic_dname(&self, f: u64, dentry: u64) -> Result<Vec<u8>, ReadFault> {
        let s = &self.dname;
        if f == s.pipefs_dname {
            Ok(format!("pipe:[{}]", self.inode_ino(dentry)?).into_bytes())
        } else if f == s.sockfs_dname {
            Ok(format!("socket:[{}]", self.inode_ino(dentry)?).into_bytes())
        } else if f == s.anon_inodefs_dname {
            let mut v = b"anon_inode:".to_vec();
            v.extend(self.d_name(dentry)?);
            Ok(v)
        } else if f == s.simple_dname {
            let mut v = b"/".to_vec();
            v.extend(self.d_name(dentry)?);
            v.extend_from_slice(b" (deleted)");
            Ok(v)
        } else {
            Err(ReadFault::Corrupt {
                addr: dentry,
                what: format!("unknown d_op->d_dname function {f:#x}"),
            })
        }
    }
}

/// `seq_file_path(m, file, "\n")`: newlines in a path are written as `\012`.
pub fn escape_newlines(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for &b in p {
        if b == b'\n' {
            out.extend_from_slice(b"\\012");
        } else {
            out.push(b);
        }
    }
    out
}
