//! The dumped machine's architecture, decided by the dump itself (ELF `e_machine`, the
//! kdump header's machine name, VMCOREINFO), never by the host reading it.

use super::vmcoreinfo::VmcoreInfo;

const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    pub fn from_elf_machine(machine: u16) -> Option<Arch> {
        match machine {
            EM_X86_64 => Some(Arch::X86_64),
            EM_AARCH64 => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// `utsname.machine` as `uname -m` prints it.
    pub fn from_uts_machine(machine: &str) -> Option<Arch> {
        match machine {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" | "arm64" => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// From the keys only one architecture's crash_core code publishes
    /// (arch/arm64/kernel/crash_core.c, arch/x86/kernel/crash_core_64.c).
    pub fn from_vmcoreinfo(info: &VmcoreInfo) -> Option<Arch> {
        if info.get("NUMBER(kimage_voffset)").is_some() {
            Some(Arch::Arm64)
        } else if info.get("NUMBER(phys_base)").is_some() || info.symbol("init_top_pgt").is_some() {
            Some(Arch::X86_64)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }
}

/// A readable name for an ELF machine number, for the error about an unsupported one.
pub fn elf_machine_name(machine: u16) -> String {
    let known = match machine {
        3 => "i386",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "s390",
        40 => "ARM (32-bit)",
        243 => "RISC-V",
        258 => "LoongArch",
        _ => return format!("ELF machine {machine}"),
    };
    format!("ELF machine {machine} ({known})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognised_from_each_source() {
        assert_eq!(Arch::from_elf_machine(62), Some(Arch::X86_64));
        assert_eq!(Arch::from_elf_machine(183), Some(Arch::Arm64));
        assert_eq!(Arch::from_elf_machine(40), None);
        assert_eq!(Arch::from_uts_machine("Unknown"), None);
        let arm = VmcoreInfo::parse(
            b"OSRELEASE=6.1.0-57-cloud-arm64\nNUMBER(kimage_voffset)=0xffffd1bd19800000\n",
        )
        .unwrap();
        assert_eq!(Arch::from_vmcoreinfo(&arm), Some(Arch::Arm64));
        let x86 =
            VmcoreInfo::parse(b"OSRELEASE=6.1.0-57-cloud-amd64\nNUMBER(phys_base)=0\n").unwrap();
        assert_eq!(Arch::from_vmcoreinfo(&x86), Some(Arch::X86_64));
        assert_eq!(elf_machine_name(40), "ELF machine 40 (ARM (32-bit))");
    }
}
