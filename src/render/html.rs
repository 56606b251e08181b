//! `vmscope report`: one self-contained HTML page (inline style and SVG; no script, no
//! external resource) put together from the texts and pictures the other renderers make.
//! Every text read from memory goes through [`esc`].

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;

/// Text for HTML: control bytes shown as `\xNN`, then `&`, `<`, `>` and quotes as entities.
pub fn esc(s: &str) -> String {
    super::svg::esc(s)
}

/// Text made by a text renderer (which already shows control bytes of memory as `\xNN`)
/// for a `<pre>`: its lines kept, entities escaped, any other control byte shown.
pub fn esc_pre(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// How a process's check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Violations,
    Error,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Violations => "VIOLATIONS",
            Verdict::Error => "ERROR",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Violations => "bad",
            Verdict::Error => "error",
        }
    }
}

/// One process's section; a part that could not be made is `None` (its reason in `errors`).
pub struct Process {
    pub pid: i32,
    pub comm: String,
    pub mm: u64,
    pub vmas: Option<usize>,
    /// Why a part is missing or incomplete, one line each.
    pub errors: Vec<String>,
    /// The address-space strip (SVG).
    pub strip: Option<String>,
    /// The tree picture (SVG).
    pub tree: Option<String>,
    /// The tree's text summary.
    pub summary: Option<String>,
    pub verdict: Verdict,
    /// The check's text (verdict, per-check table, findings).
    pub check: String,
    /// The cost table (HTML, from [`table`]) and its chart (SVG).
    pub costs: Option<String>,
    pub chart: Option<String>,
}

/// The whole page.
pub struct Page<'a> {
    pub title: &'a str,
    /// Who made the page, from what (one line).
    pub made_by: &'a str,
    /// `info`'s text.
    pub info: &'a str,
    /// The task list as an HTML table (from [`table`]).
    pub tasks: &'a str,
    pub processes: &'a [Process],
}

/// The anchor of a process's section.
pub fn anchor(pid: i32) -> String {
    format!("pid-{pid}")
}

const STYLE: &str = "\
body{font-family:sans-serif;margin:1.5em;color:#222;max-width:100%}\
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:12px}\
table{border-collapse:collapse;font-size:12px;margin:.5em 0}\
th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}\
td.num{text-align:right;font-family:monospace}\
th{background:#eee}\
.picture{overflow:auto;max-height:80vh;border:1px solid #ddd;margin:.5em 0}\
.picture svg{display:block}\
.verdict{font-weight:bold;padding:0 .4em}\
.ok{color:#1a7f37}.bad{color:#c00}.error{color:#fff;background:#c00}\
.errors{color:#c00;font-weight:bold}\
section.process{border-top:2px solid #888;margin-top:2em}\
nav a{margin-right:.6em}";

/// The page: header, contents, info, the task list, an index of the processes, and a
/// section per process linked both ways.
pub fn page(p: &Page<'_>) -> String {
    let mut s = String::with_capacity(
        p.processes
            .iter()
            .map(|x| x.strip.as_ref().map_or(0, String::len) + (1 << 14))
            .sum::<usize>(),
    );
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(p.title)
    );
    let _ = writeln!(s, "<h1 id=\"top\">{}</h1>", esc(p.title));
    let _ = writeln!(s, "<p>{}</p>", esc(p.made_by));
    s.push_str(
        "<nav><a href=\"#info\">kernel</a><a href=\"#tasks\">tasks</a>\
         <a href=\"#processes\">processes</a></nav>\n",
    );
    let _ = writeln!(
        s,
        "<section id=\"info\"><h2>Kernel</h2><pre>{}</pre></section>",
        esc_pre(p.info)
    );
    let _ = writeln!(
        s,
        "<section id=\"tasks\"><h2>Tasks</h2>\n{}</section>",
        p.tasks
    );
    index(p.processes, &mut s);
    for x in p.processes {
        process(x, &mut s);
    }
    s.push_str("</body></html>\n");
    s
}

/// One line per process: pid linked to its section, comm, VMAs, verdict, errors.
fn index(ps: &[Process], s: &mut String) {
    let bad = ps.iter().filter(|p| p.verdict != Verdict::Ok).count();
    let _ = writeln!(
        s,
        "<section id=\"processes\"><h2>Processes</h2><p>{} processes, {bad} not ok</p>",
        ps.len()
    );
    s.push_str("<table><tr><th>pid</th><th>comm</th><th>mm</th><th>VMAs</th><th>check</th><th>errors</th></tr>\n");
    for p in ps {
        let _ = writeln!(
            s,
            "<tr><td class=\"num\"><a href=\"#{}\">{}</a></td><td>{}</td><td class=\"num\">{:#x}</td>\
             <td class=\"num\">{}</td><td class=\"verdict {}\">{}</td><td>{}</td></tr>",
            anchor(p.pid),
            p.pid,
            esc(&p.comm),
            p.mm,
            p.vmas.map_or_else(|| "-".into(), |n| n.to_string()),
            p.verdict.class(),
            p.verdict.word(),
            p.errors.len()
        );
    }
    s.push_str("</table></section>\n");
}

/// A process's section: errors first, then its pictures, summary, check and costs.
fn process(p: &Process, s: &mut String) {
    let _ = writeln!(
        s,
        "<section class=\"process\" id=\"{}\"><h2>pid {} ({}) <span class=\"verdict {}\">{}</span></h2>",
        anchor(p.pid),
        p.pid,
        esc(&p.comm),
        p.verdict.class(),
        p.verdict.word()
    );
    let _ = writeln!(
        s,
        "<p>mm {:#x} · <a href=\"#top\">back to top</a> · <a href=\"#processes\">processes</a> · \
         <a href=\"#tasks\">tasks</a></p>",
        p.mm
    );
    if !p.errors.is_empty() {
        s.push_str("<ul class=\"errors\">");
        for e in &p.errors {
            let _ = write!(s, "<li>{}</li>", esc(e));
        }
        s.push_str("</ul>\n");
    }
    let parts = [
        ("Address space", p.strip.as_deref(), "strip"),
        ("Tree", p.tree.as_deref(), "tree"),
    ];
    for (title, svg, class) in parts {
        let _ = writeln!(s, "<h3>{title}</h3>");
        if let Some(svg) = svg {
            let _ = writeln!(s, "<div class=\"picture {class}\">\n{svg}</div>");
        }
    }
    if let Some(t) = &p.summary {
        let _ = writeln!(s, "<pre>{}</pre>", esc_pre(t));
    }
    let _ = writeln!(s, "<h3>Check</h3><pre>{}</pre>", esc_pre(&p.check));
    s.push_str("<h3>Costs</h3>\n");
    if let Some(t) = &p.costs {
        s.push_str(t);
    }
    if let Some(svg) = &p.chart {
        let _ = writeln!(s, "<div class=\"picture chart\">\n{svg}</div>");
    }
    s.push_str("</section>\n");
}

/// A JSON object with its keys in the order they were written (serde_json's own map
/// sorts them), so a table's columns follow the struct's fields.
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry::<String, Value>()? {
                    v.push(e);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// One cell: numbers right-aligned (fractions with two decimals), `-` for null.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "<td>-</td>".into(),
        Value::Number(n) if n.is_f64() => {
            format!(
                "<td class=\"num\">{:.2}</td>",
                n.as_f64().unwrap_or(f64::NAN)
            )
        }
        Value::Number(n) => format!("<td class=\"num\">{n}</td>"),
        Value::String(t) => format!("<td>{}</td>", esc(t)),
        other => format!("<td>{}</td>", esc(&other.to_string())),
    }
}

/// Every field of every row as a table: one column per key (in the order the rows
/// write them, keys only some rows have included), so a field added to the rows shows
/// without a change here. `link(i)` makes row i's first cell a link to that anchor.
pub fn table<T: Serialize>(
    rows: &[T],
    link: impl Fn(usize) -> Option<String>,
) -> serde_json::Result<String> {
    let rows: Vec<Ordered> = serde_json::from_str(&serde_json::to_string(rows)?)?;
    let mut keys: Vec<&str> = Vec::new();
    for r in &rows {
        for (k, _) in &r.0 {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    let mut s = String::from("<table><tr>");
    for k in &keys {
        let _ = write!(s, "<th>{}</th>", esc(&k.replace('_', " ")));
    }
    s.push_str("</tr>\n");
    for (i, r) in rows.iter().enumerate() {
        s.push_str("<tr>");
        for (j, k) in keys.iter().enumerate() {
            let v =
                r.0.iter()
                    .find(|(n, _)| n == k)
                    .map_or(&Value::Null, |e| &e.1);
            let mut c = cell(v);
            if let (0, Some(to)) = (j, link(i)) {
                let (open, rest) = c.split_at(c.find('>').map_or(0, |p| p + 1));
                let inner = rest.trim_end_matches("</td>");
                c = format!("{open}<a href=\"#{}\">{inner}</a></td>", esc(&to));
            }
            s.push_str(&c);
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        zeta: &'static str,
        alpha: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        extra: Option<u32>,
    }

    #[test]
    fn a_table_keeps_the_field_order_and_every_key() {
        let rows = [
            Row {
                zeta: "<a&b>",
                alpha: 1.0 / 3.0,
                extra: None,
            },
            Row {
                zeta: "x\ny",
                alpha: 2.5,
                extra: Some(7),
            },
        ];
        let t = table(&rows, |i| (i == 1).then(|| "pid-7".to_string())).unwrap();
        let heads: Vec<&str> = t
            .split("<th>")
            .skip(1)
            .map(|h| &h[..h.find('<').unwrap()])
            .collect();
        assert_eq!(heads, ["zeta", "alpha", "extra"]);
        assert!(
            t.contains("<td>&lt;a&amp;b&gt;</td><td class=\"num\">0.33</td><td>-</td>"),
            "{t}"
        );
        assert!(t.contains("<td><a href=\"#pid-7\">x\\ny</a></td>"), "{t}");
        assert!(t.contains("<td class=\"num\">7</td>"), "{t}");
    }

    #[test]
    fn text_from_memory_cannot_open_an_element() {
        let p = Process {
            pid: 5,
            comm: "<script>\u{1}".into(),
            mm: 0x10,
            vmas: None,
            errors: vec!["bad </pre> path".into()],
            strip: None,
            tree: None,
            summary: None,
            verdict: Verdict::Error,
            check: "pid 5 (<b>)\n\\x01 \u{2}".into(),
            costs: None,
            chart: None,
        };
        let page = page(&Page {
            title: "t",
            made_by: "m",
            info: "release <x>",
            tasks: "",
            processes: std::slice::from_ref(&p),
        });
        for bad in ["<script>", "<b>", "</pre> path", "<x>"] {
            assert!(!page.contains(bad), "{bad} in {page}");
        }
        assert!(page.contains("&lt;script&gt;\\x01"), "{page}");
        assert!(page.contains("(&lt;b&gt;)\n\\x01 \\x02</pre>"), "{page}");
        assert!(page.contains("<a href=\"#pid-5\">5</a>"));
        assert!(page.contains("id=\"pid-5\""));
    }
}
