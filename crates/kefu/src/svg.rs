//! A small SVG line chart, written by hand: one polyline per series over equal time buckets.

use std::fmt::Write;

const W: f64 = 800.0;
const H: f64 = 360.0;
const PAD: f64 = 48.0;
const COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

pub fn line_chart(title: &str, from: i64, to: i64, series: &[(String, Vec<u64>)]) -> String {
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(
        svg,
        r#"<text x="{PAD}" y="24" font-size="16">{}</text>"#,
        escape(title)
    );
    // The legend sits under the title, one row per series; the plot starts below it.
    let legend_rows = series.len() as f64;
    let (x0, y0, x1, y1) = (PAD, H - PAD, W - PAD, PAD + 16.0 * legend_rows);
    let _ = write!(
        svg,
        r##"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/>"##
    );
    let _ = write!(
        svg,
        r##"<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>"##
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end">{max}</text>"#,
        x0 - 6.0,
        y1 + 4.0
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end">0</text>"#,
        x0 - 6.0,
        y0 + 4.0
    );
    let _ = write!(
        svg,
        r#"<text x="{x0}" y="{}">{}</text>"#,
        y0 + 18.0,
        kefu_policy::rfc3339(from)
    );
    let _ = write!(
        svg,
        r#"<text x="{x1}" y="{}" text-anchor="end">{}</text>"#,
        y0 + 18.0,
        kefu_policy::rfc3339(to)
    );
    for (i, (label, values)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let n = values.len().max(2) - 1;
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let x = x0 + (x1 - x0) * j as f64 / n as f64;
                let y = y0 - (y0 - y1) * *v as f64 / max as f64;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let ly = 44.0 + 16.0 * i as f64;
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{colour}"/>"#,
            x0,
            ly - 9.0
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="{ly}">{}</text>"#,
            x0 + 15.0,
            escape(label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
