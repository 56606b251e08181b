//! `costs PID --svg`: the cost table as bar charts, one panel per measure, one bar
//! per structure; each bar is `id="bar-MEASURE-ROW"` with its value in `data-value`.

use super::{esc, Svg, CHAR_W, LINE};
use crate::check::costs::CostRow;
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

pub fn picture(rows: &[CostRow], title: &str) -> String {
    let names: Vec<String> = rows
        .iter()
        .map(|r| format!("{} ({})", r.structure, r.basis))
        .collect();
    let label_w = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as f64 * CHAR_W;
    let panel_h = LINE + rows.len() as f64 * (BAR_H + 4.0) + 12.0;
    let w = MARGIN * 2.0 + label_w + 12.0 + BAR_MAX + 80.0;
    let h = MARGIN * 2.0 + LINE * 1.5 + MEASURES.len() as f64 * panel_h;
    let mut svg = Svg::new(w, h, title);
    svg.text(MARGIN, MARGIN + LINE * 0.5, title, "#000", "start");
    let colours = ["#9ab", "#c66", "#d94", "#6a6", "#77c"];
    for (p, (key, name)) in MEASURES.iter().enumerate() {
        let top = MARGIN + LINE * 1.5 + p as f64 * panel_h;
        svg.text(MARGIN, top + LINE, name, "#000", "start");
        let max = rows.iter().map(|r| value(r, key)).fold(0.0, f64::max);
        for (i, (r, n)) in rows.iter().zip(&names).enumerate() {
            let v = value(r, key);
            let y = top + LINE + 6.0 + i as f64 * (BAR_H + 4.0);
            let x = MARGIN + label_w + 12.0;
            let len = if max > 0.0 { v / max * BAR_MAX } else { 0.0 };
            let _ = writeln!(
                svg.out,
                r#"<g id="bar-{key}-{i}" class="bar" data-structure="{}" data-value="{v}">"#,
                esc(&r.structure)
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
