//! A process's address space as one vertical strip (`vmas PID --svg`): from 0 down to the
//! top of user space, each VMA a block coloured by kind and as tall as the log of its
//! size, each gap compressed to a thin band with its size written; every VMA labelled
//! with its range, permissions and path to the right.

use super::{maps_range, Svg, LINE};
use crate::render::view::{Kind, VmaLabel};

const MARGIN: f64 = 16.0;
const STRIP_W: f64 = 120.0;
const GAP_H: f64 = 16.0;

/// Top of the user address space: 47-bit unless a VMA lies above it (5-level paging).
pub fn user_top(vmas: &[(u64, VmaLabel)]) -> u64 {
    let low = 0x7fff_ffff_f000u64;
    let la57 = 0x00ff_ffff_ffff_f000u64;
    if vmas.iter().any(|(_, v)| v.end > low && v.end <= la57) {
        la57
    } else {
        low
    }
}

pub fn colour(k: Kind) -> &'static str {
    match k {
        Kind::Text => "#f4a259",
        Kind::Data => "#f7d08a",
        Kind::Heap => "#e76f51",
        Kind::Stack => "#9b5de5",
        Kind::Anon => "#8ecae6",
        Kind::File => "#cdeac0",
        Kind::Special => "#bbbbbb",
    }
}

/// Height of a VMA block: grows with log2 of its page count.
fn block_h(start: u64, end: u64) -> f64 {
    let pages = (end.saturating_sub(start) >> 12).max(1);
    2.0 * LINE + 2.0 * f64::from(63 - pages.leading_zeros())
}

/// A size as people read it (`4 KiB`, `1.5 GiB`).
pub fn human(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if v.fract() == 0.0 {
        format!("{v:.0} {}", units[u])
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// One segment of the strip in address order.
pub enum Segment<'a> {
    Vma(u64, &'a VmaLabel),
    Gap(u64, u64),
}

/// VMAs (sorted by start) with the gaps between them, from 0 to `top`.
pub fn segments(vmas: &[(u64, VmaLabel)], top: u64) -> Vec<Segment<'_>> {
    let mut out = Vec::with_capacity(vmas.len() * 2 + 1);
    let mut at = 0u64;
    for (addr, v) in vmas {
        if v.start > at {
            out.push(Segment::Gap(at, v.start));
        }
        out.push(Segment::Vma(*addr, v));
        at = at.max(v.end);
    }
    if top > at {
        out.push(Segment::Gap(at, top));
    }
    out
}

/// The strip of `vmas` (vm_area_struct address, label), in address order.
pub fn picture(vmas: &[(u64, VmaLabel)], title: &str) -> String {
    let top = user_top(vmas);
    let segs = segments(vmas, top);
    let h: f64 = segs
        .iter()
        .map(|s| match s {
            Segment::Vma(_, v) => block_h(v.start, v.end),
            Segment::Gap(..) => GAP_H,
        })
        .sum::<f64>()
        + MARGIN * 2.0
        + 3.0 * LINE;
    let longest = vmas
        .iter()
        .map(|(_, v)| v.path.chars().count())
        .max()
        .unwrap_or(0);
    let w = MARGIN * 2.0 + STRIP_W + super::text_w(48 + longest);
    let mut svg = Svg::new(w, h, title);
    svg.text(MARGIN, MARGIN + LINE, title, "#000", "start");
    let x = MARGIN;
    let mut y = MARGIN + 2.0 * LINE;
    svg.text(x + STRIP_W + 8.0, y + LINE - 4.0, "0x0", "#666", "start");
    for s in &segs {
        match s {
            Segment::Gap(a, b) => {
                svg.rect(x, y, STRIP_W, GAP_H, "#fafafa", "#ccc");
                svg.text(
                    x + STRIP_W / 2.0,
                    y + GAP_H - 4.0,
                    &format!("gap {}", human(b - a)),
                    "#888",
                    "middle",
                );
                y += GAP_H;
            }
            Segment::Vma(addr, v) => {
                let bh = block_h(v.start, v.end);
                let kind = v.kind();
                svg.group(
                    &format!("vma-{addr:#x}"),
                    &format!("vma {kind:?}").to_lowercase(),
                );
                svg.rect(x, y, STRIP_W, bh, colour(kind), "#333");
                svg.text(
                    x + STRIP_W / 2.0,
                    y + LINE,
                    &human(v.end - v.start),
                    "#000",
                    "middle",
                );
                let label = format!("{} {} {}", maps_range(v.start, v.end), v.perms, v.path);
                svg.text(x + STRIP_W + 8.0, y + LINE, &label, "#000", "start");
                svg.end_group();
                y += bh;
            }
        }
    }
    svg.text(
        x + STRIP_W + 8.0,
        y,
        &format!("{top:#x} (top of user space)"),
        "#666",
        "start",
    );
    svg.finish()
}
