//! Objects of loaded modules shown with their values, against drgn: `show --module M TYPE
//! SYMBOL` on the fixture dumps, from the dump alone (its BTF, kallsyms and the module's BTF
//! in memory) and with the DWARF vmlinux. tests/drgn_module_values.py gives each object's
//! address (the module's own symbol table), its raw bytes, and, when the module's .ko has
//! DWARF (the source-built 6.12 kernel), every member's value as drgn types it. Debian's
//! qemu_fw_cfg.ko has BTF but no DWARF: there pahole's layout of the module's type (split
//! BTF on the vmlinux's) is checked, and each value against the bytes at its offset.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

/// One module object to show: its type and symbol.
struct Object {
    ty: &'static str,
    symbol: &'static str,
}

/// The objects of one fixture kernel's module, and a list of the module's own type.
struct Case {
    dump: &'static str,
    module: &'static str,
    objects: &'static [Object],
    /// (head symbol, container type, list member) of a list whose nodes are shown.
    list: Option<(&'static str, &'static str, &'static str)>,
}

const CASES: &[Case] = &[
    Case {
        dump: "6.1",
        module: "qemu_fw_cfg",
        objects: &[
            Object {
                ty: "fw_cfg_sysfs_attribute",
                symbol: "fw_cfg_sysfs_attr_size",
            },
            Object {
                ty: "fw_cfg_sysfs_attribute",
                symbol: "fw_cfg_sysfs_attr_key",
            },
            Object {
                ty: "fw_cfg_sysfs_attribute",
                symbol: "fw_cfg_sysfs_attr_name",
            },
        ],
        list: Some(("fw_cfg_entry_cache", "fw_cfg_sysfs_entry", "list")),
    },
    Case {
        dump: "6.12-clang",
        module: "binfmt_misc",
        objects: &[
            Object {
                ty: "linux_binfmt",
                symbol: "misc_format",
            },
            Object {
                ty: "file_system_type",
                symbol: "bm_fs_type",
            },
        ],
        list: None,
    },
];

/// The module's .ko the fixture kernel ships (kernels/R/modules or the source build's).
fn ko(d: &common::DumpFixture, module: &str) -> PathBuf {
    let dir = d.vmlinux.parent().expect("vmlinux has a directory");
    dir.join("modules").join(format!("{module}.ko"))
}

fn has_section(file: &Path, name: &str) -> bool {
    let out = Command::new("readelf")
        .args(["-S", "-W"])
        .arg(file)
        .output()
        .expect("readelf (binutils)");
    String::from_utf8_lossy(&out.stdout).contains(&format!(" {name} "))
}

/// pahole's layout of `ty` from the module's split BTF: member name -> (offset, size).
fn pahole_members(ko: &Path, base_btf: &Path, ty: &str) -> BTreeMap<String, (u64, u64)> {
    let out = Command::new("pahole")
        .args(["-F", "btf", "--btf_base"])
        .arg(base_btf)
        .args(["-C", ty])
        .arg(ko)
        .output()
        .expect("pahole");
    assert!(out.status.success(), "pahole -C {ty} {}", ko.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut members = BTreeMap::new();
    // Top-level member lines only: one tab, then `TYPE NAME[N]; /* OFF SIZE */`.
    for line in text
        .lines()
        .filter(|l| l.starts_with('\t') && !l.starts_with("\t\t"))
    {
        let Some((decl, comment)) = line.split_once("/*") else {
            continue;
        };
        let nums: Vec<u64> = comment
            .trim_end_matches("*/")
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        let decl = decl.trim().trim_end_matches(';');
        let name = match decl.split_once("(*") {
            Some((_, rest)) => rest.split(')').next().unwrap_or_default(),
            None => decl.rsplit([' ', '*']).next().unwrap_or_default(),
        };
        let name = name.split('[').next().unwrap_or_default();
        if let [off, size] = nums[..] {
            members.insert(name.to_string(), (off, size));
        }
    }
    assert!(!members.is_empty(), "no members in pahole's {ty}:\n{text}");
    members
}

/// drgn's answer for `request` on the dump (with the module's .ko when it has DWARF).
fn oracle(d: &common::DumpFixture, ko: Option<&Path>, request: &Json) -> Json {
    let extra: Vec<&Path> = ko.into_iter().collect();
    common::drgn_json(d, "tests/drgn_module_values.py", &extra, request)
}

/// A leaf of vmscope's value tree: where it is and what it holds.
#[derive(Debug)]
struct Leaf {
    offset: u64,
    size: u64,
    kind: String,
    /// Integer value (pointers, ints, enums, bools), or None for strings.
    int: Option<i128>,
    text: Option<String>,
    symbol: Option<String>,
    /// A bit field: (bit offset from the object's start, as vmscope gives it, width).
    bits: Option<(u32, u32)>,
}

/// vmscope's leaves by dotted path (anonymous members add no name, as in the oracle).
fn vmscope_leaves(node: &Json, prefix: &str, out: &mut BTreeMap<String, Leaf>) {
    let name = node["name"].as_str().unwrap_or_default();
    let path = match (prefix.is_empty(), name.is_empty()) {
        (_, true) => prefix.to_string(),
        (true, false) => name.to_string(),
        (false, false) => format!("{prefix}.{name}"),
    };
    let v = &node["value"];
    let kind = v["kind"].as_str().unwrap_or_default().to_string();
    if kind == "composite" {
        for m in node["members"].as_array().into_iter().flatten() {
            vmscope_leaves(m, &path, out);
        }
        return;
    }
    let int = match kind.as_str() {
        "uint" | "enum" | "flags" => v["value"].as_u64().map(i128::from),
        "int" => v["value"].as_i64().map(i128::from),
        "bool" => v["value"].as_bool().map(i128::from),
        "pointer" => common::parse_hex(v["address"].as_str().unwrap_or_default())
            .ok()
            .map(i128::from),
        _ => None,
    };
    out.insert(
        path,
        Leaf {
            offset: node["offset"].as_u64().unwrap(),
            size: node["size"].as_u64().unwrap(),
            kind,
            int,
            text: v["value"].as_str().map(str::to_string),
            symbol: v["symbol"].as_str().map(str::to_string),
            bits: node["bit_size"]
                .as_u64()
                .map(|w| (node["bit_offset"].as_u64().unwrap_or(0) as u32, w as u32)),
        },
    );
}

/// `show --module M TYPE AT --json`, from the dump alone (`btf`) or with the vmlinux.
fn show(d: &common::DumpFixture, btf: bool, module: &str, ty: &str, at: &str) -> Json {
    let (rc, out, err) =
        common::vmscope_on(d, btf, &["show", "--module", module, ty, at, "--json"]);
    assert_eq!(rc, 0, "{}: show {ty} {at} (btf {btf}): {err}", d.name);
    serde_json::from_str(&out).expect("show --json")
}

/// Every leaf vmscope printed against the object's raw bytes (read by drgn), and the
/// module's pointers named as the module's symbol table names them.
fn check_against_bytes(
    what: &str,
    leaves: &BTreeMap<String, Leaf>,
    bytes: &[u8],
    symbols: &BTreeMap<u64, Vec<String>>,
) {
    let mut checked = 0;
    for (path, l) in leaves {
        let (o, n) = (l.offset as usize, l.size as usize);
        let Some(raw) = bytes.get(o..o + n) else {
            panic!(
                "{what}.{path}: at {o}+{n}, past the object's {} bytes",
                bytes.len()
            );
        };
        if l.kind == "string" {
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            let want = String::from_utf8_lossy(&raw[..end]);
            assert_eq!(l.text.as_deref(), Some(&*want), "{what}.{path}");
            checked += 1;
            continue;
        }
        let Some(got) = l.int else { continue };
        let mut b = [0u8; 16];
        b[..n.min(16)].copy_from_slice(&raw[..n.min(16)]);
        let mut want = i128::from_le_bytes(b);
        let width = match l.bits {
            Some((at, w)) => {
                want = (want >> (at - 8 * o as u32)) & ((1i128 << w) - 1);
                w
            }
            None => 8 * n as u32,
        };
        if l.kind == "int" && width < 128 {
            let shift = 128 - width;
            want = (want << shift) >> shift;
        }
        assert_eq!(got, want, "{what}.{path} ({} at {o}, {n} bytes)", l.kind);
        checked += 1;
        if l.kind == "pointer" {
            if let Some(names) = symbols.get(&(got as u64)) {
                let sym = l.symbol.as_deref().unwrap_or_default();
                let name = sym.split(" [").next().unwrap_or_default();
                assert!(
                    names.iter().any(|n| n == name) && sym.ends_with(']'),
                    "{what}.{path} = {got:#x}: vmscope names it {sym:?}, the module's symbols {names:?}"
                );
            }
        }
    }
    assert!(checked > 0, "{what}: no value checked");
}

/// drgn's typed values (DWARF .ko): each one vmscope's too.
fn check_against_typed(what: &str, leaves: &BTreeMap<String, Leaf>, typed: &Json) {
    let typed = typed.as_object().expect("leaves object");
    assert!(!typed.is_empty(), "{what}: drgn gave no members");
    for (path, want) in typed {
        let got = leaves
            .get(path)
            .unwrap_or_else(|| panic!("{what}: vmscope has no member {path}"));
        match want {
            Json::String(s) => assert_eq!(got.text.as_deref(), Some(s.as_str()), "{what}.{path}"),
            n => {
                let w = n
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
                    .unwrap();
                // drgn gives pointers and unsigned values as non-negative integers.
                let g = match got.kind.as_str() {
                    "int" => got.int.unwrap(),
                    _ => got.int.unwrap_or(-1),
                };
                assert_eq!(g, w, "{what}.{path} ({})", got.kind);
            }
        }
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn run_case(c: &Case) {
    let d = common::dump(c.dump);
    let ko = ko(&d, c.module);
    let dwarf = has_section(&ko, ".debug_info").then_some(ko.as_path());
    let tmp = tempfile::tempdir().unwrap();
    // pahole's layouts, when the module has no DWARF for drgn (and pahole reads its BTF).
    let base = tmp.path().join("vmlinux.btf");
    let layouts = dwarf.is_none().then(|| {
        let st = Command::new("objcopy")
            .arg(format!("--dump-section=.BTF={}", base.display()))
            .arg(&d.vmlinux)
            .arg(tmp.path().join("scratch.o"))
            .status()
            .expect("objcopy");
        assert!(st.success());
        let mut types: Vec<&str> = c.objects.iter().map(|o| o.ty).collect();
        types.extend(c.list.map(|l| l.1));
        types
            .into_iter()
            .map(|t| (t, pahole_members(&ko, &base, t)))
            .collect::<BTreeMap<_, _>>()
    });
    let list_req = c.list.map(|(head, ty, member)| {
        let l = &layouts.as_ref().expect("a list needs pahole's layout")[ty];
        let (off, _) = l[member];
        let size = l.values().map(|(o, s)| o + s).max().unwrap();
        serde_json::json!([head, off, size])
    });
    let request = serde_json::json!({
        "objects": c.objects.iter().map(|o| o.symbol).collect::<Vec<_>>(),
        "lists": list_req.into_iter().collect::<Vec<_>>(),
    });
    let answer = oracle(&d, dwarf, &request);
    let mut symbols: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for s in answer["symbols"].as_array().unwrap() {
        if s["module"] == c.module {
            let a = s["address"].as_u64().unwrap();
            symbols
                .entry(a)
                .or_default()
                .push(s["name"].as_str().unwrap().to_string());
        }
    }
    for btf in [true, false] {
        let mode = if btf { "dump only" } else { "vmlinux" };
        for o in c.objects {
            let what = format!("{} {mode}: {} {}", d.name, o.ty, o.symbol);
            let want = &answer["objects"][o.symbol];
            let shown = show(&d, btf, c.module, o.ty, o.symbol);
            let addr = want["address"].as_u64().unwrap();
            assert_eq!(shown["address"], format!("{addr:#x}"), "{what}: address");
            let mut leaves = BTreeMap::new();
            vmscope_leaves(&shown["node"], "", &mut leaves);
            let bytes = unhex(want["bytes"].as_str().unwrap());
            check_against_bytes(&what, &leaves, &bytes, &symbols);
            match (&want["leaves"], &layouts) {
                (Json::Object(_), _) => check_against_typed(&what, &leaves, &want["leaves"]),
                (_, Some(l)) => check_layout(&what, &shown["node"], &l[o.ty]),
                _ => panic!("{what}: neither drgn's types nor pahole's layout"),
            }
        }
        if let Some((head, ty, _)) = c.list {
            let nodes = answer["lists"][head].as_array().unwrap();
            assert!(!nodes.is_empty(), "{}: {head} is empty", d.name);
            let mut named = 0;
            for n in nodes {
                let addr = n["address"].as_u64().unwrap();
                let what = format!("{} {mode}: {ty} at {addr:#x} on {head}", d.name);
                let shown = show(&d, btf, c.module, ty, &format!("{addr:#x}"));
                let mut leaves = BTreeMap::new();
                vmscope_leaves(&shown["node"], "", &mut leaves);
                check_against_bytes(
                    &what,
                    &leaves,
                    &unhex(n["bytes"].as_str().unwrap()),
                    &symbols,
                );
                check_layout(&what, &shown["node"], &layouts.as_ref().unwrap()[ty]);
                named += leaves
                    .values()
                    .filter(|l| {
                        l.kind == "string" && l.text.as_ref().is_some_and(|t| !t.is_empty())
                    })
                    .count();
            }
            assert!(named > 0, "{}: no {ty} on {head} has a name", d.name);
        }
    }
}

/// The top-level members vmscope shows sit where pahole puts them.
fn check_layout(what: &str, node: &Json, pahole: &BTreeMap<String, (u64, u64)>) {
    let members = node["members"].as_array().expect("members");
    let got: BTreeMap<String, (u64, u64)> = members
        .iter()
        .map(|m| {
            let name = m["name"].as_str().unwrap().to_string();
            (
                name,
                (m["offset"].as_u64().unwrap(), m["size"].as_u64().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        &got, pahole,
        "{what}: members (offset, size) against pahole"
    );
}

#[test]
fn module_objects_match_drgn_from_the_dump_alone_and_with_the_vmlinux() {
    let names = common::dump_names();
    let mut ran = 0;
    for c in CASES {
        if names.iter().any(|n| n == c.dump) {
            run_case(c);
            ran += 1;
        }
    }
    assert!(ran > 0, "none of the module cases' dumps is configured");
}

/// `sym` and `rd` take a module's symbol, and `sym` names a module address.
#[test]
fn sym_and_rd_know_module_symbols() {
    let d = common::dump("6.1");
    let answer = oracle(&d, None, &serde_json::json!({"objects": ["fw_cfg_rev"]}));
    let want = &answer["objects"]["fw_cfg_rev"];
    let addr = want["address"].as_u64().unwrap();
    for btf in [true, false] {
        let (rc, out, err) = common::vmscope_on(&d, btf, &["sym", "fw_cfg_rev"]);
        assert_eq!(rc, 0, "sym fw_cfg_rev: {err}");
        assert_eq!(out, format!("{addr:#018x} fw_cfg_rev [qemu_fw_cfg]\n"));
        let inside = format!("{:#x}", addr + 2);
        let (rc, out, err) = common::vmscope_on(&d, btf, &["sym", &inside]);
        assert_eq!(rc, 0, "sym {inside}: {err}");
        assert_eq!(out, format!("{inside} fw_cfg_rev+0x2 [qemu_fw_cfg]\n"));
        let n = want["size"].as_u64().unwrap().to_string();
        let (rc, out, err) = common::vmscope_on(&d, btf, &["rd", "fw_cfg_rev", &n]);
        assert_eq!(rc, 0, "rd fw_cfg_rev: {err}");
        let hex: String = out
            .split_whitespace()
            .skip(1)
            .take_while(|w| w.len() == 2)
            .collect();
        assert_eq!(hex, want["bytes"].as_str().unwrap(), "rd fw_cfg_rev: {out}");
    }
}
