//! `costs PID --svg`: the cost table as bar charts, one panel per measure, one bar
//! per structure; each bar is `id="bar-MEASURE-ROW"` with its value in `data-value`.

use super::{esc, Svg, CHAR_W, LINE};
use crate::check::cost_table::CostTable;
use crate::check::costs::CostRow;
use crate::check::probes::ProbeRow;
use crate::check::work::OpRow;
use std::fmt::Write as _;

const MARGIN: f64 = 20.0;
const BAR_H: f64 = 16.0;
const BAR_MAX: f64 = 360.0;

/// The measures drawn, with their names.
pub const MEASURES: [(&str, &str); 5] = [
    ("avg_steps", "lookup: mean nodes visited"),
    ("max_steps", "lookup: worst nodes visited"),
    ("avg_cache_lines", "lookup: mean cache lines"),
    ("iterate_steps", "full iteration (fork, exit): steps"),
    (
        "iterate_cache_lines",
        "full iteration (fork, exit): cache lines",
    ),
];

pub fn value(r: &CostRow, measure: &str) -> f64 {
    match measure {
        "avg_steps" => r.avg_steps,
        "max_steps" => r.max_steps as f64,
        "avg_cache_lines" => r.avg_cache_lines,
        "iterate_steps" => r.iterate_steps as f64,
        _ => r.iterate_cache_lines as f64,
    }
}

/// One panel: a measure and its bars (label, structure, value).
struct Panel {
    key: String,
    name: String,
    bars: Vec<(String, String, f64)>,
}

fn label(structure: &str, basis: &str) -> String {
    format!("{structure} ({basis})")
}

pub fn picture(rows: &[CostRow], title: &str) -> String {
    draw(&lookup_panels(rows), title)
}

fn lookup_panels(rows: &[CostRow]) -> Vec<Panel> {
    MEASURES
        .iter()
        .map(|(key, name)| Panel {
            key: key.to_string(),
            name: name.to_string(),
            bars: rows
                .iter()
                .map(|r| {
                    let l = label(&r.structure, &r.basis);
                    (l, r.structure.clone(), value(r, key))
                })
                .collect(),
        })
        .collect()
}

/// `costs --svg`: the lookup panels, then random lookups, insert, erase and fork; the
/// ids of the later panels name their JSON section: `bar-insert.avg_nodes-2`.
pub fn table_picture(c: &CostTable, title: &str) -> String {
    let mut panels = lookup_panels(&c.rows);
    let mut add = |key: &str, name: &str, bars: Vec<(String, String, f64)>| {
        panels.push(Panel {
            key: key.into(),
            name: name.into(),
            bars,
        })
    };
    let probe = |f: fn(&ProbeRow) -> f64| -> Vec<(String, String, f64)> {
        c.random
            .iter()
            .map(|r| (label(&r.structure, &r.basis), r.structure.clone(), f(r)))
            .collect()
    };
    add(
        "random.avg_steps",
        "lookup at random addresses: mean nodes visited",
        probe(|r| r.avg_steps),
    );
    add(
        "random.max_steps",
        "lookup at random addresses: worst nodes visited",
        probe(|r| r.max_steps as f64),
    );
    for (sec, rows) in [("insert", &c.insert), ("erase", &c.erase)] {
        let ops = |f: fn(&OpRow) -> f64| -> Vec<(String, String, f64)> {
            rows.iter()
                .map(|r| (label(&r.structure, &r.basis), r.structure.clone(), f(r)))
                .collect()
        };
        add(
            &format!("{sec}.avg_steps"),
            &format!("{sec}: mean search steps"),
            ops(|r| r.avg_steps),
        );
        add(
            &format!("{sec}.avg_nodes"),
            &format!("{sec}: mean nodes touched"),
            ops(|r| r.avg_nodes),
        );
        add(
            &format!("{sec}.avg_rebalance"),
            &format!("{sec}: mean rebalancing (rotations, recolours / splits, merges)"),
            ops(|r| r.avg_rebalance),
        );
    }
    add(
        "fork.total_steps",
        "fork: iteration steps plus nodes the copy touches",
        c.fork
            .iter()
            .map(|r| {
                let l = label(
                    &r.structure,
                    &format!("{}, copy {}", r.iterate_basis, r.basis),
                );
                (l, r.structure.clone(), r.total_steps as f64)
            })
            .collect(),
    );
    draw(&panels, title)
}

fn draw(panels: &[Panel], title: &str) -> String {
    let label_w = panels
        .iter()
        .flat_map(|p| p.bars.iter().map(|b| b.0.chars().count()))
        .max()
        .unwrap_or(0) as f64
        * CHAR_W;
    let nbars = panels.iter().map(|p| p.bars.len()).max().unwrap_or(0);
    let panel_h = LINE + nbars as f64 * (BAR_H + 4.0) + 12.0;
    let w = MARGIN * 2.0 + label_w + 12.0 + BAR_MAX + 80.0;
    let h = MARGIN * 2.0 + LINE * 1.5 + panels.len() as f64 * panel_h;
    let mut svg = Svg::new(w, h, title);
    svg.text(MARGIN, MARGIN + LINE * 0.5, title, "#000", "start");
    let colours = ["#9ab", "#c66", "#d94", "#6a6", "#77c"];
    for (p, panel) in panels.iter().enumerate() {
        let key = &panel.key;
        let top = MARGIN + LINE * 1.5 + p as f64 * panel_h;
        svg.text(MARGIN, top + LINE, &panel.name, "#000", "start");
        let max = panel.bars.iter().map(|b| b.2).fold(0.0, f64::max);
        for (i, (n, structure, v)) in panel.bars.iter().enumerate() {
            let v = *v;
            let y = top + LINE + 6.0 + i as f64 * (BAR_H + 4.0);
            let x = MARGIN + label_w + 12.0;
            let len = if max > 0.0 { v / max * BAR_MAX } else { 0.0 };
            let _ = writeln!(
                svg.out,
                r#"<g id="bar-{key}-{i}" class="bar" data-structure="{}" data-value="{v}">"#,
                esc(structure)
            );
            svg.text(x - 6.0, y + BAR_H - 4.0, n, "#333", "end");
            svg.rect(
                x,
                y,
                len.max(1.0),
                BAR_H,
                colours[i % colours.len()],
                "#555",
            );
            let shown = if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            };
            svg.text(x + len + 6.0, y + BAR_H - 4.0, &shown, "#000", "start");
            svg.end_group();
        }
    }
    svg.finish()
}
