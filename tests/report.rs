//! `report -o FILE.html` on the fixture dumps (5.10 rb-tree, 6.1 maple tree): a section for
//! every process the guest's /proc shows with an address space, its strip with one box per
//! line of the guest's maps, its tree picture accounting for every VMA of those maps and for
//! every node (an rb node per VMA; the maple nodes drgn counts), an ok verdict against the
//! maps, a cost table and chart; every link lands on an anchor; the whole dump in under 5 s.
//! Then headless Chromium (Debian's `chromium`, installed by fixtures/host-tools.sh; a
//! missing one fails the test) loads the page: no console message, a screenshot kept as
//! target/report-DUMP.png that is not blank, and in a probed copy of the page each SVG laid
//! out with a size and the same VMA and node elements the XML parser found.

mod common;

use common::svg::{elements, folded_counts, ids};
use common::{parse_maps, run_vmscope, DumpFixture, MapsLine};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(120);

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// `report` over the dump (with `extra` args); (exit status, stderr, page, wall time).
fn report(d: &DumpFixture, out: &Path, extra: &[&str]) -> (i32, String, String, Duration) {
    let core = d.dir.join("elf.core").display().to_string();
    let vmlinux = d.vmlinux.display().to_string();
    let maps = d.proc_dir().display().to_string();
    let mut args = vec![
        "--core",
        &core,
        "--vmlinux",
        &vmlinux,
        "report",
        "-o",
        out.to_str().unwrap(),
        "--maps-dir",
        &maps,
    ];
    args.extend(extra);
    let t = Instant::now();
    let (code, stdout, stderr) = run_vmscope(&args, LONG);
    let took = t.elapsed();
    assert!(
        stdout.is_empty(),
        "report prints nothing on stdout: {stdout}"
    );
    (code, stderr, common::read_text(out), took)
}

/// The process sections of a page: pid -> its HTML.
fn sections(page: &str) -> BTreeMap<i32, &str> {
    let mut m = BTreeMap::new();
    for part in page.split("<section class=\"process\" id=\"pid-").skip(1) {
        let pid: i32 = part[..part.find('"').unwrap()].parse().expect("a pid");
        let end = part.find("</section>").expect("the section ends");
        assert!(m.insert(pid, &part[..end]).is_none(), "pid {pid} twice");
    }
    m
}

/// The pictures of a section in page order: (kind (strip, tree, chart), SVG text).
fn pictures(section: &str) -> Vec<(&str, &str)> {
    section
        .split("<div class=\"picture ")
        .skip(1)
        .map(|part| {
            let kind = &part[..part.find('"').unwrap()];
            let body = &part[part.find(">\n").unwrap() + 2..part.find("</div>").unwrap()];
            (kind, body)
        })
        .collect()
}

/// The guest's processes with an address space and their maps.
fn guest_maps(d: &DumpFixture) -> BTreeMap<i32, Vec<MapsLine>> {
    let proc = d.proc();
    proc.pids()
        .into_iter()
        .filter(|&pid| !proc.is_kernel_thread(pid))
        .map(|pid| (pid, parse_maps(&proc.maps_text(pid))))
        .collect()
}

/// Nodes of each tree: rb-tree, one per VMA in the tree (maps without the gate VMA);
/// maple tree, as drgn counts them.
fn node_counts(d: &DumpFixture, maps: &BTreeMap<i32, Vec<MapsLine>>) -> BTreeMap<i32, usize> {
    if d.name == "5.10" {
        return maps.iter().map(|(&p, m)| (p, in_tree(m))).collect();
    }
    let exprs: Vec<String> = maps
        .keys()
        .map(|p| format!("mt_nodes(find_task(prog, {p}).mm.mm_mt.address_of_())"))
        .collect();
    let refs: Vec<&str> = exprs.iter().map(String::as_str).collect();
    let got = common::drgn_eval(d, &refs);
    maps.keys()
        .zip(got)
        .map(|(&p, v)| (p, v["value"].as_u64().expect("a count") as usize))
        .collect()
}

/// VMAs in the tree: the maps lines but the gate VMA.
fn in_tree(maps: &[MapsLine]) -> usize {
    maps.iter().filter(|l| l.path != "[vsyscall]").count()
}

/// Every process section against the guest's /proc and drgn; the links.
fn check_page(d: &DumpFixture, page: &str) {
    let maps = guest_maps(d);
    let nodes = node_counts(d, &maps);
    let secs = sections(page);
    assert_eq!(
        secs.keys().collect::<BTreeSet<_>>(),
        maps.keys().collect::<BTreeSet<_>>(),
        "{}: sections vs the guest's processes with an mm",
        d.name
    );
    for (pid, s) in &secs {
        let what = format!("{} pid {pid}", d.name);
        let m = &maps[pid];
        assert!(
            s.contains("class=\"verdict ok\""),
            "{what}: verdict:\n{s:.2000}"
        );
        assert!(
            !s.contains("class=\"errors\""),
            "{what}: errors in {s:.2000}"
        );
        let pics: BTreeMap<&str, &str> = pictures(s).into_iter().collect();
        assert_eq!(
            pics.keys().copied().collect::<Vec<_>>(),
            ["chart", "strip", "tree"],
            "{what}"
        );
        let strip = elements(pics["strip"]);
        assert_eq!(
            ids(&strip, "vma-0x").len(),
            m.len(),
            "{what}: strip vs maps"
        );
        let tree = elements(pics["tree"]);
        assert_eq!(
            folded_counts(&tree),
            (nodes[pid], in_tree(m)),
            "{what}: tree picture (drawn + folded nodes and VMAs) vs the oracles"
        );
        let chart = elements(pics["chart"]);
        assert!(!ids(&chart, "bar-").is_empty(), "{what}: empty chart");
        assert!(
            s.contains("<h3>Costs</h3>\n<table><tr><th>structure</th>"),
            "{what}: no cost table"
        );
        assert!(
            page.contains(&format!("<a href=\"#pid-{pid}\">{pid}</a>")),
            "{what}: not linked from the lists"
        );
    }
    // Every link lands on an element of the page.
    let anchors: BTreeSet<&str> = page
        .split(" id=\"")
        .skip(1)
        .map(|p| &p[..p.find('"').unwrap()])
        .collect();
    for link in page.split("href=\"#").skip(1) {
        let to = &link[..link.find('"').unwrap()];
        assert!(
            anchors.contains(to),
            "{}: a link to #{to} lands nowhere",
            d.name
        );
    }
}

/// Headless Chromium on `args`; its stderr (its own log and the page's console).
fn chromium(args: &[&str], profile: &Path) -> (bool, String, String) {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium: install it with ./fixtures/host-tools.sh");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What the probe measures of each picture once laid out.
const PROBE: &str = r#"<script>
const got = [...document.querySelectorAll("div.picture > svg")].map(s => {
  const r = s.getBoundingClientRect(), b = s.getBBox();
  return {section: s.closest("section").id, kind: s.parentElement.classList[1],
    w: r.width, h: r.height, bw: b.width, bh: b.height,
    vmas: s.querySelectorAll('[id^="vma-0x"]').length,
    nodes: s.querySelectorAll('[id^="node-0x"]').length};
});
const pre = document.createElement("pre");
pre.id = "probe";
pre.textContent = JSON.stringify(got);
document.body.replaceChildren(pre);
</script>"#;

/// Chromium loads the page without a console message and draws it (the screenshot kept
/// as target/report-DUMP.png); in a probed copy every picture has a size and the same
/// VMA and node elements as the XML parser finds.
fn check_in_chromium(name: &str, html: &Path, page: &str) {
    let profile = tempfile::tempdir().unwrap();
    let shot = target_dir().join(format!("report-{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let url = format!("file://{}", html.display());
    let (ok, _, log) = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,2000",
            &url,
        ],
        profile.path(),
    );
    assert!(ok, "{name}: chromium failed:\n{log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "{name}: console messages: {console:#?}");
    let px = resvg::tiny_skia::Pixmap::load_png(&shot).expect("the screenshot is a PNG");
    let inked = px
        .pixels()
        .iter()
        .filter(|p| (p.red(), p.green(), p.blue()) != (255, 255, 255))
        .count();
    assert!(
        inked * 20 > px.pixels().len(),
        "{name}: screenshot nearly blank ({inked} pixels)"
    );

    let probed = html.with_extension("probe.html");
    std::fs::write(&probed, page.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let (ok, dom, log) = chromium(
        &["--dump-dom", &format!("file://{}", probed.display())],
        profile.path(),
    );
    assert!(ok, "{name}: chromium --dump-dom failed:\n{log}");
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
    let text = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let got: Vec<serde_json::Value> = serde_json::from_str(&text).expect("the probe's JSON");
    let mut want = Vec::new();
    for (pid, s) in sections(page) {
        for (kind, svg) in pictures(s) {
            let els = elements(svg);
            want.push((
                pid,
                kind,
                ids(&els, "vma-0x").len(),
                ids(&els, "node-0x").len(),
            ));
        }
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: pictures laid out vs in the page"
    );
    for (g, (pid, kind, vmas, nodes)) in got.iter().zip(&want) {
        let what = format!("{name} pid {pid} {kind}");
        assert_eq!(g["section"], format!("pid-{pid}"), "{what}");
        assert_eq!(g["kind"], *kind, "{what}");
        for k in ["w", "h", "bw", "bh"] {
            assert!(g[k].as_f64().unwrap_or(0.0) > 0.0, "{what}: {k} = {}", g[k]);
        }
        assert_eq!(g["vmas"], *vmas, "{what}: VMA elements in Chromium vs XML");
        assert_eq!(
            g["nodes"], *nodes,
            "{what}: node elements in Chromium vs XML"
        );
    }
}

fn whole_dump(name: &str) {
    let d = common::dump(name);
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join(format!("report-{name}.html"));
    let runs: Vec<_> = (0..2).map(|_| report(&d, &html, &[])).collect();
    for (code, err, _, _) in &runs {
        assert_eq!(*code, 0, "{name}: report failed: {err}");
    }
    let took = runs.iter().map(|r| r.3).min().unwrap();
    eprintln!("{name}: report of the whole dump took {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "{name}: report took {took:?}"
    );
    let page = &runs[0].2;
    assert!(
        !page.contains("<script") && !page.contains(" src=") && !page.contains("<link"),
        "{name}: the page loads something"
    );
    check_page(&d, page);
    check_in_chromium(name, &html, page);
}

#[test]
fn report_5_10_rbtree() {
    whole_dump("5.10");
}

#[test]
fn report_6_1_maple() {
    whole_dump("6.1");
}

/// `--pid`: the sections of those processes only (a thread shows its process), the
/// task list still whole.
#[test]
fn report_of_chosen_processes() {
    let d = common::dump("6.1");
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("some.html");
    let w = d.workloads();
    let threads = w.role("threads");
    let tid = *d
        .proc()
        .tids(threads.pid)
        .iter()
        .find(|&&t| t != threads.pid)
        .expect("a second thread");
    let file = w.role("file").pid;
    let (code, err, page, _) = report(
        &d,
        &html,
        &[
            "--pid",
            &file.to_string(),
            "--pid",
            &tid.to_string(),
            "--pid",
            "2",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("pid 2 (kthreadd) has no mm (kernel thread)"),
        "{err}"
    );
    let secs = sections(&page);
    assert_eq!(
        secs.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([file, threads.pid])
    );
    for pid in d.proc().pids() {
        assert!(
            page.contains(&format!("<tr><td class=\"num\">{pid}</td>"))
                || page.contains(&format!(
                    "<tr><td class=\"num\"><a href=\"#pid-{pid}\">{pid}</a></td>"
                )),
            "pid {pid} missing from the task list"
        );
    }
}
