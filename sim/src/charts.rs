//! SVG charts written by hand (no plotting dependency): stakeholder income over time with p5–p95
//! bands across runs, the Lorenz curve of stakeholder income, and A/B differences with intervals.

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 360.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

fn frame(title: &str, x_label: &str, y_label: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{H}" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
<line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="#333"/>
<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{}" stroke="#333"/>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>
"##,
        W / 2.0,
        escape(title),
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM,
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0,
        escape(x_label),
        (TOP + H - BOTTOM) / 2.0,
        (TOP + H - BOTTOM) / 2.0,
        escape(y_label)
    );
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn sx(x: f64, max: f64) -> f64 {
    LEFT + x / max.max(1e-12) * (W - LEFT - RIGHT)
}

fn sy(y: f64, min: f64, max: f64) -> f64 {
    H - BOTTOM - (y - min) / (max - min).max(1e-12) * (H - TOP - BOTTOM)
}

/// A point of a banded line: `(x, p5, median, p95)`.
pub type BandPoint = (f64, f64, f64, f64);

/// Lines with shaded bands: each series is a name and its points.
pub fn bands(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<BandPoint>)],
) -> String {
    let mut s = frame(title, x_label, y_label);
    let x_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .fold(0.0, f64::max);
    let y_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.3))
        .fold(0.0, f64::max);
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let upper: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", sx(p.0, x_max), sy(p.3, 0.0, y_max)))
            .collect();
        let lower: Vec<String> = points
            .iter()
            .rev()
            .map(|p| format!("{:.1},{:.1}", sx(p.0, x_max), sy(p.1, 0.0, y_max)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polygon points="{} {}" fill="{colour}" fill-opacity="0.18" stroke="none"/>"#,
            upper.join(" "),
            lower.join(" ")
        );
        let median: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", sx(p.0, x_max), sy(p.2, 0.0, y_max)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            median.join(" ")
        );
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}">{}</text>"#,
            LEFT + 10.0,
            TOP + 4.0 + i as f64 * 18.0,
            LEFT + 28.0,
            TOP + 14.0 + i as f64 * 18.0,
            escape(name)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="end">{y_max:.0}</text><text x="{}" y="{}" text-anchor="end">0</text><text x="{}" y="{}" text-anchor="end">{x_max:.0}</text>"#,
        LEFT - 6.0,
        TOP + 4.0,
        LEFT - 6.0,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM + 16.0
    );
    s.push_str("</svg>\n");
    s
}

/// The Lorenz curve of `values` against the line of equality.
pub fn lorenz(title: &str, values: &[u128]) -> String {
    let mut s = frame(title, "share of stakeholders", "share of income");
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let total: u128 = sorted.iter().sum();
    let n = sorted.len().max(1) as f64;
    let mut cumulative = 0u128;
    let mut points = vec![format!("{:.1},{:.1}", sx(0.0, 1.0), sy(0.0, 0.0, 1.0))];
    for (i, v) in sorted.iter().enumerate() {
        cumulative += v;
        let share = if total == 0 {
            0.0
        } else {
            cumulative as f64 / total as f64
        };
        points.push(format!(
            "{:.1},{:.1}",
            sx((i + 1) as f64 / n, 1.0),
            sy(share, 0.0, 1.0)
        ));
    }
    let _ = writeln!(
        s,
        r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-dasharray="4 4"/>
<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"##,
        sx(0.0, 1.0),
        sy(0.0, 0.0, 1.0),
        sx(1.0, 1.0),
        sy(1.0, 0.0, 1.0),
        points.join(" "),
        COLOURS[0]
    );
    s.push_str("</svg>\n");
    s
}

/// Horizontal bars of paired differences with their 95% intervals: `(label, mean, low, high)`,
/// each scaled to its own largest absolute value so metrics of different units share the chart.
pub fn deltas(title: &str, rows: &[(String, f64, f64, f64)]) -> String {
    let height = TOP + BOTTOM + rows.len() as f64 * 28.0;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{height}" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
"##,
        W / 2.0,
        escape(title)
    );
    let mid = 470.0;
    let half = 200.0;
    let _ = writeln!(
        s,
        r##"<line x1="{mid}" y1="{TOP}" x2="{mid}" y2="{}" stroke="#333"/>"##,
        height - BOTTOM
    );
    for (i, (label, mean, low, high)) in rows.iter().enumerate() {
        let y = TOP + 10.0 + i as f64 * 28.0;
        let scale = mean.abs().max(low.abs()).max(high.abs()).max(1e-12);
        let x = |v: f64| mid + v / scale * half;
        let colour = if *mean >= 0.0 { COLOURS[2] } else { COLOURS[1] };
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end">{}</text>
<rect x="{:.1}" y="{y}" width="{:.1}" height="14" fill="{colour}" fill-opacity="0.7"/>
<line x1="{:.1}" y1="{}" x2="{:.1}" y2="{}" stroke="#000"/>
<text x="{}" y="{}">{mean:+.4}</text>"##,
            mid - half - 10.0,
            y + 11.0,
            escape(label),
            x(mean.min(0.0)),
            (x(*mean) - mid).abs(),
            x(*low),
            y + 7.0,
            x(*high),
            y + 7.0,
            mid + half + 10.0,
            y + 11.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_well_formed_svg() {
        let series = vec![(
            "hosts".to_string(),
            vec![(0.0, 0.0, 1.0, 2.0), (1.0, 2.0, 3.0, 4.0)],
        )];
        for svg in [
            bands("Income", "step", "units", &series),
            lorenz("Lorenz", &[1, 2, 3, 10]),
            deltas("A/B", &[("take_rate".into(), 0.1, 0.05, 0.15)]),
        ] {
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
            assert_eq!(svg.matches("<svg").count(), 1);
            assert!(!svg.contains("NaN"));
        }
    }
}
