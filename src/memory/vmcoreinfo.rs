//! VMCOREINFO: the `KEY=VALUE` text the kernel publishes for dump readers
//! (kernel/crash_core.c, arch/x86/kernel/crash_core_64.c). Found in the ELF note
//! named `VMCOREINFO`, the kdump sub-header, /proc/kcore's note, or through
//! /sys/kernel/vmcoreinfo ("PHYSADDR SIZE" of the note in physical memory).

use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct VmcoreInfo {
    entries: HashMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum VmcoreInfoError {
    #[error("VMCOREINFO is empty or zeroed")]
    Empty,
    #[error("VMCOREINFO has no OSRELEASE line (corrupt or zeroed note)")]
    NoRelease,
}

impl VmcoreInfo {
    pub fn parse(bytes: &[u8]) -> Result<VmcoreInfo, VmcoreInfoError> {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches('\0');
        if text
            .trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .is_empty()
        {
            return Err(VmcoreInfoError::Empty);
        }
        let entries: HashMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim_matches('\0').to_string(), v.trim().to_string()))
            .collect();
        let info = VmcoreInfo { entries };
        if info.osrelease().is_none() {
            return Err(VmcoreInfoError::NoRelease);
        }
        Ok(info)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    pub fn osrelease(&self) -> Option<&str> {
        self.get("OSRELEASE").filter(|s| !s.is_empty())
    }

    pub fn build_id(&self) -> Option<&str> {
        self.get("BUILD-ID")
    }

    pub fn page_size(&self) -> Option<u64> {
        self.get("PAGESIZE")?.parse().ok()
    }

    /// `KERNELOFFSET=` is `%lx`: hex without 0x.
    pub fn kernel_offset(&self) -> Option<u64> {
        parse_hex(self.get("KERNELOFFSET")?)
    }

    /// `SYMBOL(name)=` is hex without 0x, already KASLR-relocated.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        parse_hex(self.get(&format!("SYMBOL({name})"))?)
    }

    /// `NUMBER(name)=` is `%ld` (signed decimal); a few recent ones are 0x-hex.
    pub fn number(&self, name: &str) -> Option<i64> {
        let v = self.get(&format!("NUMBER({name})"))?;
        match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok().map(|u| u as i64),
            None => v.parse().ok(),
        }
    }

    /// `NUMBER(phys_base)` reinterpreted as unsigned (it may be a negative wrap).
    pub fn phys_base(&self) -> Option<u64> {
        self.number("phys_base").map(|n| n as u64)
    }

    pub fn pgtable_l5_enabled(&self) -> Option<bool> {
        self.number("pgtable_l5_enabled").map(|n| n != 0)
    }
}

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

/// Parse /sys/kernel/vmcoreinfo: "PHYSADDR SIZE", both hex.
pub fn parse_sys_vmcoreinfo(text: &str) -> Option<(u64, u64)> {
    let mut it = text.split_whitespace();
    let addr = parse_hex(it.next()?)?;
    let size = parse_hex(it.next()?)?;
    Some((addr, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_formats_as_the_kernel_prints_them() {
        let text = b"OSRELEASE=6.1.0-47-cloud-amd64\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff9e80a000\n\
NUMBER(phys_base)=-1073741824\nKERNELOFFSET=1c000000\nNUMBER(pgtable_l5_enabled)=1\n\0\0\0";
        let v = VmcoreInfo::parse(text).unwrap();
        assert_eq!(v.osrelease(), Some("6.1.0-47-cloud-amd64"));
        assert_eq!(v.symbol("init_top_pgt"), Some(0xffffffff9e80a000));
        assert_eq!(v.phys_base(), Some((-1073741824i64) as u64));
        assert_eq!(v.kernel_offset(), Some(0x1c000000));
        assert_eq!(v.pgtable_l5_enabled(), Some(true));
        assert_eq!(v.page_size(), Some(4096));
    }

    #[test]
    fn zeroed_note_is_an_error() {
        assert!(matches!(
            VmcoreInfo::parse(&[0u8; 64]),
            Err(VmcoreInfoError::Empty)
        ));
        assert!(matches!(
            VmcoreInfo::parse(b"PAGESIZE=4096\n"),
            Err(VmcoreInfoError::NoRelease)
        ));
    }

    #[test]
    fn sys_file() {
        assert_eq!(
            parse_sys_vmcoreinfo("0x0000000100c66000 1024\n"),
            Some((0x100c66000, 0x1024))
        );
    }
}
