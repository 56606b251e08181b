//! The running kernel's /proc, in one corner: kcore preconditions (say exactly
//! why it cannot be read), the release, kptr_restrict, kallsyms and the processes.
//! Also the thread CPU clock `vmas` reports with VMSCOPE_TIMING (nix stays here).
//! The `procfs` crate answers what it models (processes); the kernel's own files
//! it does not model (kallsyms, osrelease, kptr_restrict) are read here, and
//! /proc/PID/maps stays raw bytes: it is compared byte for byte.

use super::KernelError;
use std::io::ErrorKind;
use std::path::PathBuf;

pub const KCORE: &str = "/proc/kcore";
/// The running kernel's symbol table (live mode without a vmlinux).
pub const KALLSYMS: &str = "/proc/kallsyms";

/// The running kernel's release (`uname -r`).
pub fn os_release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
}

/// The running kernel's build-id (hex), from the GNU build-id note in /sys/kernel/notes.
pub fn running_build_id() -> Option<String> {
    gnu_build_id(&std::fs::read("/sys/kernel/notes").ok()?)
}

/// The NT_GNU_BUILD_ID note's descriptor, in hex, among ELF notes (4-byte aligned
/// name and descriptor, native byte order); bounded by the data.
pub fn gnu_build_id(notes: &[u8]) -> Option<String> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(
            notes.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    let align = |n: usize| n.checked_add(3).map(|n| n & !3);
    let mut at = 0usize;
    while at + 12 <= notes.len() {
        let (namesz, descsz, kind) = (word(at)? as usize, word(at + 4)? as usize, word(at + 8)?);
        let name_at = at + 12;
        let desc_at = name_at.checked_add(align(namesz)?)?;
        let desc = notes.get(desc_at..desc_at.checked_add(descsz)?)?;
        if kind == NT_GNU_BUILD_ID && notes.get(name_at..name_at + namesz)? == b"GNU\0" {
            return Some(desc.iter().map(|b| format!("{b:02x}")).collect());
        }
        at = desc_at.checked_add(align(descsz)?)?;
    }
    None
}

/// Whether process `pid` still exists (its /proc directory is there).
pub fn process_exists(pid: i32) -> bool {
    procfs::process::Process::new(pid).is_ok()
}

/// Where the running kernel shows the maps of `pid`.
pub fn maps_path(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/maps"))
}

/// The lockdown mode in brackets from /sys/kernel/security/lockdown, if any.
fn lockdown_mode() -> Option<String> {
    let s = std::fs::read_to_string("/sys/kernel/security/lockdown").ok()?;
    let start = s.find('[')? + 1;
    let end = s[start..].find(']')? + start;
    Some(s.get(start..end)?.to_string())
}

/// Check that /proc/kcore can be opened, or explain why not.
pub fn check_kcore() -> Result<(), KernelError> {
    match std::fs::File::open(KCORE) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(KernelError::Live(
            "no /proc/kcore: this kernel was built without CONFIG_PROC_KCORE (or /proc is not mounted); use --core FILE".into(),
        )),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            if !nix::unistd::geteuid().is_root() {
                return Err(KernelError::Live("live mode needs root: /proc/kcore is readable only with CAP_SYS_RAWIO; run as root or pass --core FILE".into()));
            }
            if let Some(mode) = lockdown_mode().filter(|m| m != "none") {
                return Err(KernelError::Live(format!(
                    "/proc/kcore is blocked by kernel lockdown (mode '{mode}' in /sys/kernel/security/lockdown); use a dump instead"
                )));
            }
            Err(KernelError::Live(format!("/proc/kcore: permission denied although running as root ({e}); a security module may block it")))
        }
        Err(e) => Err(KernelError::Live(format!("/proc/kcore: {e}"))),
    }
}

/// Explain a missing KASLR offset in live mode: /proc/kallsyms hides addresses
/// when kptr_restrict is set.
pub fn kptr_restrict_hint() -> String {
    let v = std::fs::read_to_string("/proc/sys/kernel/kptr_restrict").unwrap_or_default();
    format!("kernel.kptr_restrict = {} (addresses in /proc/kallsyms are hidden unless it is 0, or 1 with CAP_SYSLOG)", v.trim())
}

/// CPU time of this thread in ms (wall time says little on a busy machine).
pub fn thread_cpu_ms() -> f64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| t.tv_sec() as f64 * 1e3 + t.tv_nsec() as f64 / 1e6)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::gnu_build_id;

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [name.len() as u32, desc.len() as u32, kind] {
            v.extend_from_slice(&w.to_ne_bytes());
        }
        for part in [name, desc] {
            v.extend_from_slice(part);
            v.resize(v.len().next_multiple_of(4), 0);
        }
        v
    }

    #[test]
    fn build_id_note_is_found_after_other_notes() {
        let mut notes = note(b"Xen\0", 6, &[1, 2, 3, 4, 5]);
        notes.extend(note(b"GNU\0", 3, &[0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(gnu_build_id(&notes).as_deref(), Some("deadbeef"));
        assert_eq!(gnu_build_id(&notes[..notes.len() - 2]), None);
        assert_eq!(gnu_build_id(&note(b"Linux\0", 3, &[1])), None);
        assert_eq!(gnu_build_id(&[0xff; 40]), None);
    }
}
