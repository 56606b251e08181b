//! Reading the SVG pictures in tests: elements by id (XML parsed with roxmltree), the
//! counts a folded tree picture accounts for, and an in-process render (resvg) that must
//! not be blank.

use std::collections::BTreeMap;
use std::path::Path;

/// One picture element with an id: its id and the text of its `<text>` children.
pub struct Element {
    pub id: String,
    pub texts: Vec<String>,
}

pub fn elements(svg: &str) -> Vec<Element> {
    // Graphviz's SVG starts with a DOCTYPE; ours has none.
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc =
        roxmltree::Document::parse_with_options(svg, opt).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter_map(|n| {
            let id = n.attribute("id")?.to_string();
            let texts = n
                .children()
                .filter(|c| c.has_tag_name("text"))
                .map(|c| c.text().unwrap_or("").to_string())
                .collect();
            Some(Element { id, texts })
        })
        .collect()
}

/// Ids starting with `prefix`, each asserted unique.
pub fn ids<'a>(els: &'a [Element], prefix: &str) -> BTreeMap<&'a str, &'a Element> {
    let mut m = BTreeMap::new();
    for e in els.iter().filter(|e| e.id.starts_with(prefix)) {
        assert!(m.insert(e.id.as_str(), e).is_none(), "id {} twice", e.id);
    }
    m
}

/// Renders the SVG in-process; the picture must not be blank (mostly background).
pub fn check_renders(svg: &str, what: &str) {
    use resvg::{tiny_skia, usvg};
    let mut opt = usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    opt.fontdb_mut().set_monospace_family("DejaVu Sans Mono");
    let tree = usvg::Tree::from_str(svg, &opt).expect("usvg parses it");
    let size = tree.size().to_int_size();
    let mut px = tiny_skia::Pixmap::new(size.width(), size.height()).expect("pixmap");
    resvg::render(&tree, tiny_skia::Transform::default(), &mut px.as_mut());
    let total = px.pixels().len();
    let inked = px
        .pixels()
        .iter()
        .filter(|p| (p.red(), p.green(), p.blue()) != (255, 255, 255))
        .count();
    assert!(
        inked * 50 > total,
        "{what}: only {inked} of {total} pixels drawn"
    );
    // Kept for a look: target/tree-pictures/WHAT.png.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tree-pictures");
    let _ = std::fs::create_dir_all(&dir);
    let _ = px.save_png(dir.join(format!("{}.png", what.replace(' ', "-"))));
}

/// The number before `word` in `s` ("3 nodes, 40 VMAs").
pub fn count_before(s: &str, word: &str) -> usize {
    let w: Vec<&str> = s.split_whitespace().collect();
    let i = w
        .iter()
        .position(|x| x.trim_end_matches(',') == word)
        .expect(word);
    w[i - 1].trim_start_matches('…').parse().expect("a count")
}

/// (nodes, VMAs) a folded picture accounts for: drawn boxes plus the counts of folds.
pub fn folded_counts(els: &[Element]) -> (usize, usize) {
    let folds = ids(els, "fold-0x");
    let runs = ids(els, "run-");
    let nodes = ids(els, "node-0x").len()
        + folds
            .values()
            .map(|e| count_before(&e.texts[1], "nodes"))
            .sum::<usize>();
    let mut vmas = ids(els, "vma-0x").len()
        + runs
            .values()
            .map(|e| count_before(&e.texts[0], "VMAs"))
            .sum::<usize>();
    // A maple fold holds its VMAs; an rb fold's VMAs are in the list's runs instead.
    if runs.is_empty() {
        vmas += folds
            .values()
            .map(|e| count_before(&e.texts[1], "VMAs"))
            .sum::<usize>();
    }
    (nodes, vmas)
}
