//! Symbols and types a dump carries itself, for when no vmlinux is at hand:
//! kallsyms decoded from the tables VMCOREINFO points at (6.0+), or a copy of
//! /proc/kallsyms or a System.map checked against the dump; and the kernel's BTF
//! between `__start_BTF` and `__stop_BTF`.

use super::kallsyms::{self, Tables, MAX_SYMS};
use super::symbols::{Origin, Symbols};
use super::{kernel_space, KernelError, ReadContext};
use crate::debuginfo::btf::{Btf, BtfDb};
use crate::memory::dump::Dump;
use crate::memory::space::KernelSpace;
use crate::memory::vmcoreinfo::VmcoreInfo;
use crate::memory::Memory;

/// Largest kernel BTF accepted (6.1's is about 5 MB).
const MAX_BTF: u64 = 256 << 20;

fn vmcoreinfo(dump: &Dump) -> Result<&VmcoreInfo, KernelError> {
    dump.vmcoreinfo
        .as_ref()
        .ok_or_else(|| KernelError::NoVmcoreinfo {
            dump: dump.path.clone(),
        })
}

/// The kernel image, readable before any symbol is known (VMCOREINFO names the
/// page tables and the physical base).
pub fn image_space(dump: &Dump) -> Result<KernelSpace, KernelError> {
    kernel_space(&Symbols::empty(&dump.path), dump.vmcoreinfo.as_ref(), dump)
}

/// The symbols of the kallsyms tables in the dump's memory.
pub fn dump_kallsyms(dump: &Dump) -> Result<Symbols, KernelError> {
    let info = vmcoreinfo(dump)?;
    let sym = |name: &'static str| {
        info.symbol(name).ok_or_else(|| KernelError::NoDumpSymbols {
            dump: dump.path.clone(),
            missing: name,
        })
    };
    let (names_at, count_at) = (sym("kallsyms_names")?, sym("kallsyms_num_syms")?);
    let (table_at, index_at) = (sym("kallsyms_token_table")?, sym("kallsyms_token_index")?);
    let (offsets_at, base_at) = (sym("kallsyms_offsets")?, sym("kallsyms_relative_base")?);
    let stext = sym("_stext")?;
    let mem = image_space(dump)?;
    let count = mem
        .read_u32(count_at)
        .ctx(|| format!("kallsyms_num_syms at {count_at:#x}"))?;
    let bad = |source| KernelError::Kallsyms {
        dump: dump.path.clone(),
        source,
    };
    if count == 0 || count > MAX_SYMS {
        return Err(bad(kallsyms::KallsymsError::Count(count)));
    }
    let n = count as usize;
    let base = mem
        .read_u64(base_at)
        .ctx(|| format!("kallsyms_relative_base at {base_at:#x}"))?;
    let offsets = mem
        .read_vec(offsets_at, n * 4)
        .ctx(|| format!("kallsyms_offsets at {offsets_at:#x}"))?;
    let index = mem
        .read_vec(index_at, 512)
        .ctx(|| format!("kallsyms_token_index at {index_at:#x}"))?;
    let last = index
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
        .max()
        .unwrap_or(0);
    // Tokens are short: the last one ends well within 256 bytes of its start.
    let table = mem
        .read_vec(table_at, last + 256)
        .ctx(|| format!("kallsyms_token_table at {table_at:#x}"))?;
    let names = read_names(&mem, names_at, count);
    let t = Tables {
        names_addr: names_at,
        names: &names,
        token_table: &table,
        token_index: &index,
        offsets: &offsets,
        num_syms: count,
        relative_base: base,
    };
    let decoded = kallsyms::decode(&t, stext).map_err(bad)?;
    let syms = Symbols::from_decoded(
        &format!("{} (kallsyms in memory)", dump.path),
        decoded,
        Origin::DumpMemory,
    )?;
    agree_with_vmcoreinfo(&syms, info)?;
    Ok(syms)
}

/// `kallsyms_names`: its length is not stored, so read until `count` entries fit
/// (an entry is at most 2 + 0x7fff bytes; a short read is reported by the decoder).
fn read_names(mem: &KernelSpace, at: u64, count: u32) -> Vec<u8> {
    let most = count as usize * 64;
    let mut len = (count as usize * 16).min(most);
    let mut got = Vec::new();
    loop {
        match mem.read_vec(at, len) {
            Ok(v) => got = v,
            Err(_) => return got,
        }
        if kallsyms::names_len(&got, count).is_some() || len >= most {
            return got;
        }
        len = (len * 2).min(most);
    }
}

/// VMCOREINFO `SYMBOL()`s that are a variable's own address (others, such as
/// `mem_section`, publish a pointer's value).
const ADDRESS_SYMBOLS: &[&str] = &[
    "_stext",
    "_text",
    "init_top_pgt",
    "swapper_pg_dir",
    "init_uts_ns",
    "node_online_map",
    "vmap_area_list",
    "prb",
    "printk_rb_static",
    "clear_seq",
    "kallsyms_names",
    "kallsyms_num_syms",
    "kallsyms_token_table",
    "kallsyms_token_index",
    "kallsyms_offsets",
    "kallsyms_relative_base",
];

/// Every address VMCOREINFO publishes that the table also has must agree: a
/// table of another build (or a bad decoding) is refused here.
fn agree_with_vmcoreinfo(syms: &Symbols, info: &VmcoreInfo) -> Result<(), KernelError> {
    let mut pairs: Vec<(&str, u64)> = info
        .symbols()
        .filter(|(n, _)| ADDRESS_SYMBOLS.contains(n))
        .collect();
    pairs.sort_unstable();
    let names: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
    let found = syms.raw_addresses(&names);
    for ((name, want), have) in pairs.into_iter().zip(found) {
        if let Some(have) = have {
            if have != want {
                return Err(KernelError::ForeignSymbols {
                    file: syms.path().into(),
                    name: name.into(),
                    have,
                    want,
                });
            }
        }
    }
    Ok(())
}

/// A copy of /proc/kallsyms (runtime addresses) or a System.map (link addresses,
/// moved by KERNELOFFSET), refused unless it is the dumped build's.
pub fn kallsyms_file(path: &str, dump: &Dump) -> Result<Symbols, KernelError> {
    let info = vmcoreinfo(dump)?;
    let text = std::fs::read(path).map_err(|e| KernelError::Vmlinux {
        file: path.into(),
        what: e.to_string(),
    })?;
    let mut syms = Symbols::from_kallsyms_text(path, text, Origin::File)?;
    let missing = |name: &'static str| KernelError::MissingSymbol {
        file: path.into(),
        name: name.into(),
    };
    let have = syms
        .raw_address("_stext")
        .ok_or_else(|| missing("_stext"))?;
    let want = info
        .symbol("_stext")
        .ok_or_else(|| KernelError::NoDumpSymbols {
            dump: dump.path.clone(),
            missing: "_stext",
        })?;
    let shift = info.kernel_offset().unwrap_or(0);
    if have != want && have.wrapping_add(shift) == want {
        syms.shift_image(shift);
    }
    agree_with_vmcoreinfo(&syms, info)?;
    Ok(syms)
}

/// The kernel's BTF in the dump's memory, parsed.
pub fn dump_btf(dump: &Dump, syms: &Symbols, cacheline_size: u32) -> Result<BtfDb, KernelError> {
    let (start, stop) = (syms.require("__start_BTF")?, syms.require("__stop_BTF")?);
    let bad = |why: String| KernelError::DumpBtf {
        dump: dump.path.clone(),
        start,
        stop,
        why,
    };
    let len = stop
        .checked_sub(start)
        .filter(|&l| l > 0 && l <= MAX_BTF)
        .ok_or_else(|| bad("not a plausible range".into()))?;
    let bytes = image_space(dump)?
        .read_vec(start, len as usize)
        .ctx(|| format!("kernel BTF at {start:#x}"))?;
    let btf = Btf::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
    Ok(BtfDb::new(btf, cacheline_size))
}

/// Size of the kernel's BTF in memory, without reading it (for `info`).
pub fn dump_btf_len(syms: &Symbols) -> Option<u64> {
    syms.address("__stop_BTF")?
        .checked_sub(syms.address("__start_BTF")?)
}
