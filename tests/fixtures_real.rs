//! The real-kernel fixtures are what they claim to be: each dump was taken from the kernel it
//! names, the guest's /proc capture is complete, and the workloads' mappings sit at their known
//! addresses. Oracle: the dump's own VMCOREINFO note, the guest's /proc files, workloads.json
//! written by the workloads themselves, and drgn. Missing fixtures fail with the build hint.

mod common;

use common::{DumpFormat, BUILD_HINT};
use object::read::elf::{ElfFile64, ProgramHeader};
use object::Endianness;

/// VMCOREINFO key=value text from the ELF dump's PT_NOTE "VMCOREINFO" note.
fn elf_vmcoreinfo(path: &std::path::Path) -> String {
    let file = std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}: {BUILD_HINT}", path.display()));
    // SAFETY: the fixture file is read-only and not modified while mapped.
    let map =
        unsafe { memmap2::Mmap::map(&file) }.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let elf =
        ElfFile64::<Endianness>::parse(&*map).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let endian = elf.endian();
    for ph in elf.elf_program_headers() {
        if let Ok(Some(mut notes)) = ph.notes(endian, &*map) {
            while let Ok(Some(note)) = notes.next() {
                if note.name() == b"VMCOREINFO" {
                    return String::from_utf8_lossy(note.desc()).into_owned();
                }
            }
        }
    }
    panic!("{}: no VMCOREINFO note", path.display());
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The uncompressed head of a kdump file (headers, notes, bitmaps): the first MiB suffices.
fn kdump_head(path: &std::path::Path) -> Vec<u8> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}: {BUILD_HINT}", path.display()))
        .take(1 << 20)
        .read_to_end(&mut head)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    head
}

#[test]
fn every_dump_carries_the_vmcoreinfo_of_the_booted_kernel() {
    let dumps = common::dumps();
    assert!(
        dumps.len() >= 3,
        "expected 5.10, 6.1 and 6.1-la57 dumps: {BUILD_HINT}"
    );
    for d in &dumps {
        // The release the fixture scripts downloaded and booted.
        let kernel_release = common::read_text(&d.vmlinux.with_file_name("release"))
            .trim()
            .to_string();
        assert_eq!(d.release, kernel_release, "{}: release file", d.name);
        let info = elf_vmcoreinfo(&d.file(DumpFormat::Elf));
        assert!(
            info.lines()
                .any(|l| l == format!("OSRELEASE={}", d.release)),
            "{}: VMCOREINFO says {:?}, booted {}",
            d.name,
            info.lines().find(|l| l.starts_with("OSRELEASE=")),
            d.release
        );
        assert!(
            info.lines().any(|l| l.starts_with("KERNELOFFSET=")),
            "{}: no KERNELOFFSET (KASLR)",
            d.name
        );
        let l5 = if d.la57 {
            "NUMBER(pgtable_l5_enabled)=1"
        } else {
            "NUMBER(pgtable_l5_enabled)=0"
        };
        // 5.10 (no CONFIG_X86_5LEVEL) does not export the number at all.
        if d.la57 || info.contains("pgtable_l5_enabled") {
            assert!(info.lines().any(|l| l == l5), "{}: expected {l5}", d.name);
        }
        // The workloads' own capture agrees on the release.
        assert_eq!(
            d.workloads().release,
            d.release,
            "{}: workloads.json release",
            d.name
        );
    }
}

#[test]
fn every_kdump_file_has_the_notes_and_the_announced_compression() {
    for d in common::dumps() {
        let note = format!("OSRELEASE={}\n", d.release);
        for (format, path) in d.files() {
            let Some(flag) = format.kdump_status_flag() else {
                continue;
            };
            let head = kdump_head(&path);
            assert!(
                find(&head, note.as_bytes()).is_some(),
                "{}: no {note:?} in its notes",
                path.display()
            );
            let header = if format == DumpFormat::KdumpZlibFlat {
                assert!(
                    head.starts_with(b"makedumpfile\0"),
                    "{}: not flattened",
                    path.display()
                );
                // The first flattened record holds the disk_dump_header at offset 0.
                &head[4096 + 16..]
            } else {
                &head[..]
            };
            assert!(
                header.starts_with(b"KDUMP   "),
                "{}: no KDUMP signature",
                path.display()
            );
            let status = u32::from_le_bytes(header[424..428].try_into().unwrap());
            assert_eq!(
                status & 0x27,
                flag,
                "{}: status {status:#x}",
                path.display()
            );
        }
    }
}

#[test]
fn vmlinux_matches_the_dumped_kernel() {
    for d in common::dumps() {
        let data =
            std::fs::read(&d.vmlinux).unwrap_or_else(|e| panic!("{}: {e}", d.vmlinux.display()));
        let banner = format!("Linux version {} ", d.release);
        assert!(
            find(&data, banner.as_bytes()).is_some(),
            "{}: {} lacks {banner:?}",
            d.name,
            d.vmlinux.display()
        );
    }
}

#[test]
fn proc_capture_is_complete() {
    for d in common::dumps() {
        let proc = d.proc();
        let pids = proc.pids();
        assert!(pids.contains(&1), "{}: no pid 1", d.name);
        let (mut user, mut kthreads) = (0, 0);
        for &pid in &pids {
            let stat = proc.stat(pid);
            assert_eq!(stat.pid, pid, "{}: {pid}/stat", d.name);
            assert_eq!(stat.comm, proc.comm(pid), "{}: {pid}/comm", d.name);
            let maps = proc.maps_text(pid);
            if proc.is_kernel_thread(pid) {
                assert!(maps.is_empty(), "{}: kernel thread {pid} has maps", d.name);
                kthreads += 1;
            } else {
                assert!(!maps.is_empty(), "{}: {pid}/maps is empty", d.name);
                user += 1;
            }
            let tids = proc.tids(pid);
            assert!(tids.contains(&pid), "{}: {pid}/task lacks {pid}", d.name);
            for tid in tids {
                assert_eq!(
                    proc.task_stat(pid, tid).pid,
                    tid,
                    "{}: {pid}/task/{tid}/stat",
                    d.name
                );
            }
        }
        assert!(
            user >= 10 && kthreads >= 10,
            "{}: {user} user processes, {kthreads} kernel threads",
            d.name
        );
    }
}

#[test]
fn workload_mappings_are_at_their_known_addresses() {
    for d in common::dumps() {
        let proc = d.proc();
        let wl = d.workloads();
        let mut checked = 0;
        for p in &wl.processes {
            let maps = proc.maps(p.pid);
            for m in &p.mappings {
                let line = maps.iter().find(|l| l.start == m.start).unwrap_or_else(|| {
                    panic!(
                        "{}: {} pid {}: no mapping at {:#x}",
                        d.name, p.role, p.pid, m.start
                    )
                });
                assert_eq!(
                    (
                        line.end,
                        line.perms.as_str(),
                        line.offset,
                        line.path.as_str()
                    ),
                    (m.end, m.perms.as_str(), m.offset, m.path.as_str()),
                    "{}: {} pid {} ({})",
                    d.name,
                    p.role,
                    p.pid,
                    m.what
                );
                checked += 1;
            }
        }
        assert!(
            checked >= 30,
            "{}: only {checked} workload mappings",
            d.name
        );

        // Every permission combination, private and shared.
        let perms = wl.role("perms");
        for p in ["---", "r--", "-w-", "rw-", "--x", "r-x", "-wx", "rwx"] {
            for s in ["p", "s"] {
                let want = format!("{p}{s}");
                assert!(
                    perms.mappings.iter().any(|m| m.perms == want),
                    "{}: no {want}",
                    d.name
                );
            }
        }
        // The split region: three VMAs, the middle read-only.
        let split: Vec<_> = wl
            .role("split")
            .mappings
            .iter()
            .map(|m| m.perms.as_str())
            .collect();
        assert_eq!(split, ["rw-p", "r--p", "rw-p"], "{}", d.name);
        // ~60,000 VMAs, below max_map_count.
        let many = wl.role("many");
        let lines = proc.maps(many.pid).len();
        assert!(
            (60_000..65_530).contains(&lines),
            "{}: many has {lines} VMAs",
            d.name
        );
        // Threads share one mm; every thread is in the capture.
        let threads = wl.role("threads");
        assert_eq!(
            threads.tids.len(),
            5,
            "{}: threads {:?}",
            d.name,
            threads.tids
        );
        assert_eq!(proc.tids(threads.pid), threads.tids, "{}", d.name);
        // The exec'd process runs the new image and lost its pre-exec mapping.
        let exec = wl.role("exec");
        assert_eq!(exec.comm, "wl-execd", "{}", d.name);
        let gone =
            common::parse_hex(exec.extra["pre_exec_mapping_gone"].as_str().unwrap_or("")).unwrap();
        assert!(
            proc.maps(exec.pid).iter().all(|l| l.start != gone),
            "{}: pre-exec mapping still there",
            d.name
        );
        // The deleted file is still mapped.
        assert!(
            wl.role("deleted").mappings[0].path.ends_with(" (deleted)"),
            "{}",
            d.name
        );
    }
}

#[test]
fn workload_markers_are_in_the_dumped_memory() {
    for d in common::dumps() {
        let wl = d.workloads();
        let perms = wl.role("perms");
        let m = perms.mappings.iter().find(|m| m.perms == "rw-p").unwrap();
        let marker = format!("{}\0", common::marker(perms.pid, m.start));
        let path = d.file(DumpFormat::Elf);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // SAFETY: read-only fixture file.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let pos = memchr_find(&map, marker.as_bytes());
        let pos =
            pos.unwrap_or_else(|| panic!("{}: marker {marker:?} not in the ELF dump", d.name));
        assert_eq!(
            pos % 4096,
            elf_page_phase(&map),
            "{}: marker not at a page start",
            d.name
        );
    }
}

/// Offset of a needle, scanning for its first byte (fast enough for a 512 MiB dump).
fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|&b| b == first)
        {
            None => return None,
            Some(k) => {
                i += k;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

/// File offset of physical page starts modulo 4096 in QEMU's ELF dump (PT_LOAD offset - paddr).
fn elf_page_phase(map: &[u8]) -> usize {
    let elf = ElfFile64::<Endianness>::parse(map).unwrap();
    let endian = elf.endian();
    let load = elf
        .elf_program_headers()
        .iter()
        .find(|ph| ph.p_type(endian) == object::elf::PT_LOAD)
        .unwrap();
    ((load.p_offset(endian).wrapping_sub(load.p_paddr(endian))) % 4096) as usize
}

#[test]
fn drgn_oracle_agrees_with_the_guest_proc() {
    for d in common::dumps() {
        let proc = d.proc();
        let ps = d.drgn_ps();
        // Every thread the guest listed is a drgn task with the same tgid, ppid and state.
        let mut threads = 0;
        for pid in proc.pids() {
            for tid in proc.tids(pid) {
                let stat = proc.task_stat(pid, tid);
                let t = ps
                    .iter()
                    .find(|t| t.pid == tid)
                    .unwrap_or_else(|| panic!("{}: drgn lacks task {tid}", d.name));
                assert_eq!((t.tgid, t.ppid), (pid, stat.ppid), "{}: task {tid}", d.name);
                assert_eq!(
                    t.mm.is_none(),
                    proc.is_kernel_thread(pid),
                    "{}: task {tid} mm",
                    d.name
                );
                threads += 1;
            }
        }
        assert_eq!(
            ps.iter().filter(|t| !t.idle).count(),
            threads,
            "{}: task counts",
            d.name
        );
        assert!(
            ps.iter().any(|t| t.idle && t.pid == 0),
            "{}: no idle task",
            d.name
        );
        // drgn's VMAs equal the maps files of every process (start, end, order).
        let vmas = d.drgn_vmas();
        for pid in proc
            .pids()
            .into_iter()
            .filter(|&p| !proc.is_kernel_thread(p))
        {
            let want: Vec<(u64, u64)> = proc
                .maps(pid)
                .iter()
                .filter(|l| l.path != "[vsyscall]")
                .map(|l| (l.start, l.end))
                .collect();
            let mm = vmas
                .get(&pid)
                .unwrap_or_else(|| panic!("{}: drgn has no VMAs for {pid}", d.name));
            let got: Vec<(u64, u64)> = mm.vmas.iter().map(|v| (v.start, v.end)).collect();
            assert_eq!(got, want, "{}: pid {pid}", d.name);
        }
    }
}

#[test]
fn run_in_guest_returns_output_status_and_a_fresh_proc_capture() {
    // busybox-static is one of the fixture packages; it runs inside as /bin/busybox.
    let busybox = std::path::Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "no /bin/busybox (busybox-static): {BUILD_HINT}"
    );
    // A second file rides along (busybox again, under another name in another directory).
    let run = common::run_in_guest_with(
        "5.10",
        busybox,
        &[
            "sh",
            "-c",
            "cat /proc/sys/kernel/osrelease; /usr/local/bin/busybox-copy id -u; exit 3",
        ],
        false,
        &[(busybox, "/usr/local/bin/busybox-copy")],
    );
    let kernel = common::dump("5.10");
    assert_eq!(run.status, 3, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, format!("{}\n0\n", kernel.release));
    let wl = run.workloads();
    assert_eq!(wl.release, kernel.release);
    let proc = run.proc();
    for p in &wl.processes {
        let maps = proc.maps(p.pid);
        for m in &p.mappings {
            assert!(
                maps.iter()
                    .any(|l| l.start == m.start && l.end == m.end && l.perms == m.perms),
                "{} {m:?}",
                p.role
            );
        }
    }
}

/// The kernels built from source carry named anonymous memory: the anon-name workload's prctl
/// calls succeeded, and the guest's maps (the paths in workloads.json are read from them) show
/// each case the role sets up: private and shared names, a rename, a cleared name, halves named
/// alike merged into one VMA and halves named differently kept apart.
#[test]
fn named_anonymous_mappings_show_in_the_built_kernels() {
    for name in common::source_kernel_names() {
        let d = common::dump(&name);
        let wl = d.workloads();
        let role = wl.role("anon-name");
        assert_eq!(role.extra["named"], true, "{name}: {:?}", role.extra);
        let maps = d.proc().maps(role.pid);
        let path_of = |what: &str| {
            let m = role
                .mappings
                .iter()
                .find(|m| m.what.starts_with(what))
                .unwrap_or_else(|| panic!("{name}: no {what:?} mapping in workloads.json"));
            let line = maps
                .iter()
                .find(|l| l.start == m.start && l.end == m.end)
                .unwrap_or_else(|| panic!("{name}: {what:?} {m:?} not in the guest's maps"));
            (line.path.clone(), (m.end - m.start) / 4096)
        };
        let cases = [
            ("named anon", "[anon:vmscope-named]", 2),
            ("named shared anon", "[anon_shmem:vmscope-shared]", 2),
            (
                "named vmscope-first, then renamed",
                "[anon:vmscope-renamed]",
                2,
            ),
            ("named vmscope-cleared", "", 2),
            ("two halves named alike", "[anon:vmscope-same]", 4),
            ("left half", "[anon:vmscope-left]", 2),
            ("right half", "[anon:vmscope-right]", 2),
        ];
        for (what, path, pages) in cases {
            assert_eq!(path_of(what), (path.to_string(), pages), "{name}: {what}");
        }
    }
}

/// Each built kernel's vmlinux.compressed-debug is its vmlinux with every .debug_* section
/// compressed (SHF_COMPRESSED, zlib) and every other section unchanged in size (objcopy may
/// move sections, so they are compared by name).
#[test]
fn built_kernels_have_a_copy_with_compressed_debug_sections() {
    use object::{Object, ObjectSection, SectionFlags};
    use std::collections::BTreeMap;
    let sections = |path: &std::path::Path| -> BTreeMap<String, (u64, bool)> {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file =
            object::File::parse(&*data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        file.sections()
            .map(|s| {
                let compressed = matches!(s.flags(), SectionFlags::Elf { sh_flags }
                    if sh_flags & u64::from(object::elf::SHF_COMPRESSED) != 0);
                (s.name().unwrap_or("").to_string(), (s.size(), compressed))
            })
            .collect()
    };
    for name in common::source_kernel_names() {
        let dir = common::source_kernel_dir(&name);
        let plain = sections(&dir.join("vmlinux"));
        let packed = sections(&dir.join("vmlinux.compressed-debug"));
        assert_eq!(
            plain.keys().collect::<Vec<_>>(),
            packed.keys().collect::<Vec<_>>(),
            "{name}: section names"
        );
        let mut debug = 0;
        for (n, &(size, c)) in &plain {
            let (psize, pc) = packed[n];
            assert!(!c, "{name}: {n} compressed in the plain vmlinux");
            if n.starts_with(".debug_") && size > 0 {
                assert!(
                    pc && psize < size,
                    "{name}: {n} not compressed ({size} -> {psize})"
                );
                debug += 1;
            } else {
                assert!(
                    !pc && psize == size,
                    "{name}: {n} changed ({size} -> {psize})"
                );
            }
        }
        assert!(debug >= 5, "{name}: only {debug} debug sections");
    }
}
