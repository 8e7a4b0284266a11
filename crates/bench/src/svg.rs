//! The scale plot, written by hand as SVG polylines: one panel per kind of cost, entries on a
//! log axis.

use std::fmt::Write as _;

use crate::report::Figures;

struct Series {
    name: &'static str,
    color: &'static str,
    ys: Vec<f64>,
}

struct Panel {
    title: &'static str,
    log_y: bool,
    series: Vec<Series>,
}

const COLORS: [&str; 7] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf",
];

const PANEL_W: f64 = 470.0;
const PANEL_H: f64 = 270.0;
const PLOT_L: f64 = 60.0;
const PLOT_W: f64 = 250.0;
const PLOT_T: f64 = 34.0;
const PLOT_H: f64 = 180.0;

fn us_per_entry(per_s: f64) -> f64 {
    if per_s > 0.0 {
        1e6 / per_s
    } else {
        f64::NAN
    }
}

fn panels(all: &[Figures]) -> Vec<Panel> {
    let col = |f: &dyn Fn(&Figures) -> f64| all.iter().map(f).collect::<Vec<f64>>();
    let s = |i: usize, name: &'static str, ys: Vec<f64>| Series {
        name,
        color: COLORS[i % COLORS.len()],
        ys,
    };
    vec![
        Panel {
            title: "Cost per entry (us), lower is better",
            log_y: true,
            series: vec![
                s(0, "import", col(&|f| us_per_entry(f.import_per_s))),
                s(1, "verify", col(&|f| us_per_entry(f.verify_per_s))),
                s(2, "export jsonl", col(&|f| us_per_entry(f.export_per_s))),
                s(
                    3,
                    "ceil: batch verify",
                    col(&|f| us_per_entry(f.verify_ceiling_per_s)),
                ),
                s(
                    4,
                    "ceil: strict verify",
                    col(&|f| us_per_entry(f.strict_ceiling_per_s)),
                ),
                s(
                    5,
                    "ceil: sled insert",
                    col(&|f| us_per_entry(f.insert_ceiling_per_s)),
                ),
                s(
                    6,
                    "ceil: sled scan",
                    col(&|f| us_per_entry(f.scan_ceiling_per_s)),
                ),
            ],
        },
        Panel {
            title: "Durable append latency (ms)",
            log_y: false,
            series: vec![
                s(0, "append p50", col(&|f| f.append_p50_ms)),
                s(1, "append p99", col(&|f| f.append_p99_ms)),
                s(2, "raw fsync p50", col(&|f| f.fsync_p50_ms)),
            ],
        },
        Panel {
            title: "Proof at the full tree size (us)",
            log_y: false,
            series: vec![
                s(0, "inclusion", col(&|f| f.proof_large_us)),
                s(1, "consistency", col(&|f| f.consistency_large_us)),
            ],
        },
        Panel {
            title: "Verify peak RSS (MiB)",
            log_y: false,
            series: vec![
                s(0, "verify VmHWM", col(&|f| f.verify_peak_rss_mib)),
                s(1, "after open", col(&|f| f.verify_rss_after_open_mib)),
            ],
        },
        Panel {
            title: "Bytes per entry",
            log_y: false,
            series: vec![
                s(0, "ledger dir", col(&|f| f.disk_per_entry)),
                s(1, "envelopes", col(&|f| f.envelope_per_entry)),
                s(
                    2,
                    "raw sled leaves",
                    col(&|f| f.raw_sled_bytes as f64 / f.entries.max(1) as f64),
                ),
            ],
        },
        Panel {
            title: "Wall time (s)",
            log_y: true,
            series: vec![
                s(0, "import", col(&|f| f.import_secs)),
                s(1, "verify", col(&|f| f.verify_secs)),
                s(2, "export jsonl", col(&|f| f.export_secs)),
                s(3, "generate", col(&|f| f.gen_secs)),
            ],
        },
    ]
}

fn size_label(n: u64) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n % 1_000 == 0 {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least `x`.
fn nice_step(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= x)
        .unwrap_or(10.0 * p)
}

fn num_label(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if v.abs() >= 1e3 {
        format!("{}k", trim(format!("{:.2}", v / 1e3)))
    } else if v.abs() >= 10.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        trim(format!("{v:.1}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

fn draw(out: &mut String, ox: f64, oy: f64, sizes: &[u64], p: &Panel) {
    let ys: Vec<f64> = p
        .series
        .iter()
        .flat_map(|s| s.ys.iter().copied())
        .filter(|y| y.is_finite() && (!p.log_y || *y > 0.0))
        .collect();
    let (lo, hi) = if p.log_y {
        let mn = ys.iter().copied().fold(f64::INFINITY, f64::min);
        let mx = ys.iter().copied().fold(0.0, f64::max);
        if mn.is_finite() && mx > 0.0 {
            (
                mn.log10().floor(),
                mx.log10().ceil().max(mn.log10().floor() + 1.0),
            )
        } else {
            (0.0, 1.0)
        }
    } else {
        let mx = ys.iter().copied().fold(0.0, f64::max);
        (
            0.0,
            if mx > 0.0 {
                4.0 * nice_step(mx / 4.0)
            } else {
                1.0
            },
        )
    };
    let ymap = |y: f64| -> f64 {
        let v = if p.log_y { y.log10() } else { y };
        oy + PLOT_T + PLOT_H - (v - lo) / (hi - lo) * PLOT_H
    };
    let xs: Vec<f64> = sizes.iter().map(|&n| (n.max(1) as f64).log10()).collect();
    let (xlo, xhi) = match (xs.first(), xs.last()) {
        (Some(a), Some(b)) if b > a => (*a, *b),
        (Some(a), _) => (a - 0.5, a + 0.5),
        _ => (0.0, 1.0),
    };
    let xmap = |x: f64| ox + PLOT_L + (x - xlo) / (xhi - xlo) * PLOT_W;

    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="14" font-weight="bold">{}</text>"##,
        ox + 10.0,
        oy + 20.0,
        p.title
    );
    let _ = writeln!(
        out,
        r##"<rect x="{:.1}" y="{:.1}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#888"/>"##,
        ox + PLOT_L,
        oy + PLOT_T
    );
    // Y ticks.
    let ticks: Vec<f64> = if p.log_y {
        let mut t = Vec::new();
        let mut e = lo;
        while e <= hi + 1e-9 {
            t.push(10f64.powf(e));
            e += 1.0;
        }
        t
    } else {
        (0..=4).map(|i| hi * f64::from(i) / 4.0).collect()
    };
    for t in ticks {
        let y = ymap(t);
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            ox + PLOT_L,
            ox + PLOT_L + PLOT_W,
            ox + PLOT_L - 4.0,
            y + 4.0,
            num_label(t)
        );
    }
    // X ticks.
    for (&n, &x) in sizes.iter().zip(&xs) {
        let px = xmap(x);
        let _ = writeln!(
            out,
            r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#ddd"/><text x="{px:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            oy + PLOT_T,
            oy + PLOT_T + PLOT_H,
            oy + PLOT_T + PLOT_H + 15.0,
            size_label(n)
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">entries (log scale){}</text>"##,
        ox + PLOT_L + PLOT_W / 2.0,
        oy + PLOT_T + PLOT_H + 32.0,
        if p.log_y { "; y log scale" } else { "" }
    );
    for (k, s) in p.series.iter().enumerate() {
        let pts: Vec<String> =
            s.ys.iter()
                .zip(&xs)
                .filter(|(y, _)| y.is_finite() && (!p.log_y || **y > 0.0))
                .map(|(&y, &x)| format!("{:.1},{:.1}", xmap(x), ymap(y)))
                .collect();
        if pts.len() > 1 {
            let _ = writeln!(
                out,
                r##"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"##,
                pts.join(" "),
                s.color
            );
        }
        for pt in &pts {
            if let Some((x, y)) = pt.split_once(',') {
                let _ = writeln!(
                    out,
                    r##"<circle cx="{x}" cy="{y}" r="3" fill="{}"/>"##,
                    s.color
                );
            }
        }
        let ly = oy + PLOT_T + 8.0 + k as f64 * 16.0;
        let lx = ox + PLOT_L + PLOT_W + 12.0;
        let _ = writeln!(
            out,
            r##"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"##,
            lx + 16.0,
            s.color,
            lx + 20.0,
            ly + 4.0,
            s.name
        );
    }
}

/// The whole plot for the runs in `all` (one per size, ascending).
pub fn render(all: &[Figures]) -> String {
    let sizes: Vec<u64> = all.iter().map(|f| f.entries).collect();
    let ps = panels(all);
    let cols = 2usize;
    let rows = ps.len().div_ceil(cols);
    let width = PANEL_W * cols as f64;
    let height = PANEL_H * rows as f64 + 40.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"##
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="white"/><text x="10" y="24" font-size="16" font-weight="bold">accord-bench: how each cost grows with the ledger ({} threads)</text>"##,
        all.first().map_or(0, |f| f.threads)
    );
    for (i, p) in ps.iter().enumerate() {
        let ox = (i % cols) as f64 * PANEL_W;
        let oy = 40.0 + (i / cols) as f64 * PANEL_H;
        draw(&mut out, ox, oy, &sizes, p);
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert!((nice_step(0.7) - 1.0).abs() < 1e-12);
        assert!((nice_step(1.3) - 2.0).abs() < 1e-12);
        assert!((nice_step(2.2) - 2.5).abs() < 1e-12);
        assert!((nice_step(420.0) - 500.0).abs() < 1e-9);
        assert_eq!(num_label(1500.0), "1.5k");
        assert_eq!(size_label(1_000_000), "1M");
    }

    #[test]
    fn renders_one_polyline_per_series_over_several_sizes() {
        let all: Vec<Figures> = [10_000u64, 100_000]
            .iter()
            .map(|&n| Figures {
                entries: n,
                import_per_s: 5000.0,
                verify_per_s: 9000.0,
                append_p50_ms: 1.0,
                ..Figures::default()
            })
            .collect();
        let svg = render(&all);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<polyline"));
        assert!(svg.contains(">100k<"));
    }
}
