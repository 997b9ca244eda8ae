//! Charts, drawn with plotters into SVG text: where simulated connections land, and how the
//! rules grow with the number of Services in each mode.

use crate::i18n::{t, tf, Lang};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Deserialize;

const ACCENT: RGBColor = RGBColor(36, 96, 138);
const EXPECTED: RGBColor = RGBColor(180, 35, 24);
const MODES: [(&str, RGBColor); 3] = [
    ("iptables", RGBColor(180, 35, 24)),
    ("ipvs", RGBColor(36, 96, 138)),
    ("nftables", RGBColor(46, 125, 50)),
];

/// Text plotters writes into the SVG: only characters an address, a port or a name needs, so
/// nothing the reader typed can become markup.
fn safe(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".:/-_[] ()".contains(*c))
        .collect()
}

fn svg(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(|e| e.to_string()));
        if let Err(e) = drawn {
            return format!(
                "<p class=\"problem\">the chart could not be drawn: {}</p>",
                safe(&e)
            );
        }
    }
    out
}

/// Bars per endpoint, each labelled with its count, and the even share as a line.
pub fn bars(
    lang: Lang,
    title: &str,
    y_label: &str,
    bars: &[(String, usize)],
    even: Option<f64>,
) -> String {
    let n = bars.len().max(1);
    let top = bars
        .iter()
        .map(|b| b.1)
        .max()
        .unwrap_or(1)
        .max(even.map_or(1, |e| e.ceil() as usize)) as f64
        * 1.2;
    let labels: Vec<String> = bars.iter().map(|b| safe(&b.0)).collect();
    svg(620, 300, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(safe(title), ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(56)
            .build_cartesian_2d((0..n).into_segmented(), 0.0..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_desc(safe(y_label))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                let mut r = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), *v as f64),
                    ],
                    ACCENT.mix(0.8).filled(),
                );
                r.set_margin(0, 0, 18, 18);
                r
            }))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                Text::new(
                    format!("{v}"),
                    (SegmentValue::CenterOf(i), *v as f64 + top * 0.06),
                    ("sans-serif", 14).into_font().color(&BLACK),
                )
            }))
            .map_err(|e| e.to_string())?;
        if let Some(e) = even {
            chart
                .draw_series(LineSeries::new(
                    [(SegmentValue::Exact(0), e), (SegmentValue::Exact(n), e)],
                    EXPECTED.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(tf(lang, "even share: {}", &[&format!("{e:.0}")]))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], EXPECTED.stroke_width(2)));
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// One measurement of `kpx scale` (static/scale.json).
#[derive(Clone, Debug, Deserialize)]
pub struct Measure {
    pub mode: String,
    pub services: usize,
    pub rules: std::collections::BTreeMap<String, usize>,
    pub first_packet_rules: Option<FirstPacket>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct FirstPacket {
    pub mean: f64,
}

/// `kpx scale` over 10 … 2,000 NodePort Services × 10 endpoints, in the three modes.
pub fn scale_data() -> Vec<Measure> {
    serde_json::from_str(include_str!("../../static/scale.json")).unwrap_or_default()
}

/// The article's case: 2,000 NodePort Services of 10 pods each, which it estimates at 20,000
/// iptables rules per node.
pub const ARTICLE_SERVICES: f64 = 2000.0;
pub const ARTICLE_ESTIMATE: f64 = 20_000.0;

/// Two log-log panels: what kube-proxy programs, and what the first packet of a connection
/// is checked against, as Services grow.
pub fn scaling(lang: Lang, data: &[Measure]) -> String {
    svg(940, 340, |root| {
        let (left, right) = root.split_horizontally(470);
        let programmed = |m: &Measure| m.rules.values().sum::<usize>() as f64;
        let first = |m: &Measure| m.first_packet_rules.as_ref().map_or(0.0, |f| f.mean);
        panel(
            lang,
            &left,
            t(lang, "What kube-proxy programs"),
            t(lang, "rules and entries"),
            data,
            &programmed,
            5.0..500_000.0,
            true,
        )?;
        panel(
            lang,
            &right,
            t(lang, "Rules the first packet meets"),
            t(lang, "rules evaluated"),
            data,
            &first,
            5.0..5_000.0,
            false,
        )?;
        Ok(())
    })
}

#[allow(clippy::too_many_arguments)]
fn panel(
    lang: Lang,
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    y_desc: &str,
    data: &[Measure],
    value: &dyn Fn(&Measure) -> f64,
    y: std::ops::Range<f64>,
    estimate: bool,
) -> Result<(), String> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(58)
        .build_cartesian_2d((5.0..4000.0).log_scale(), y.clone().log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(t(lang, "Services (10 endpoints each)"))
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| e.to_string())?;
    for (mode, color) in MODES {
        let points: Vec<(f64, f64)> = data
            .iter()
            .filter(|m| m.mode == mode)
            .map(|m| (m.services as f64, value(m).max(y.start)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(mode)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
            .map_err(|e| e.to_string())?;
    }
    // The article's case.
    chart
        .draw_series(LineSeries::new(
            [(ARTICLE_SERVICES, y.start), (ARTICLE_SERVICES, y.end)],
            BLACK.mix(0.5).stroke_width(1),
        ))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series([Text::new(
            t(lang, "article: 2,000 NodePort Services"),
            (ARTICLE_SERVICES * 0.55, y.end * 0.45),
            ("sans-serif", 11).into_font().color(&BLACK),
        )])
        .map_err(|e| e.to_string())?;
    if estimate {
        chart
            .draw_series([Circle::new(
                (ARTICLE_SERVICES, ARTICLE_ESTIMATE),
                5,
                BLACK.filled(),
            )])
            .map_err(|e| e.to_string())?;
        chart
            .draw_series([Text::new(
                t(lang, "its estimate: 20,000"),
                (ARTICLE_SERVICES * 0.18, ARTICLE_ESTIMATE * 0.7),
                ("sans-serif", 11).into_font().color(&BLACK),
            )])
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(|e| e.to_string())
}
