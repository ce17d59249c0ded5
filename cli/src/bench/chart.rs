//! The suite's results as a PNG bar chart: throughput, and p50/p99 latency, per scenario.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::suite::ScenarioReport;
use kopir_gateway::error::GatewayError;

/// Fonts tried for the chart's text; Debian's fonts-dejavu-core ships the first.
const FONTS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn load_font() -> Result<(), GatewayError> {
    let bytes = FONTS
        .iter()
        .find_map(|p| std::fs::read(p).ok())
        .ok_or_else(|| {
            GatewayError::Server(format!(
                "chart: no font found at {} (apt-get install fonts-dejavu-core)",
                FONTS.join(" or ")
            ))
        })?;
    // plotters keeps registered fonts for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| GatewayError::Server("chart: the font file is not a usable TTF".into()))
}

fn err(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Server(format!("chart: {e}"))
}

/// A number shown for each scenario.
type Metric = fn(&ScenarioReport) -> f64;

/// One panel: a bar per scenario for each metric, later metrics drawn over earlier ones.
fn panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    caption: &str,
    scenarios: &[ScenarioReport],
    metrics: &[(Metric, f64)],
) -> Result<(), GatewayError> {
    let n = scenarios.len();
    let names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    let label = |x: &SegmentValue<usize>| match x {
        SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let max = scenarios
        .iter()
        .flat_map(|s| metrics.iter().map(move |(m, _)| m(s)))
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&label)
        .x_label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    for (metric, opacity) in metrics {
        chart
            .draw_series(scenarios.iter().enumerate().map(|(i, s)| {
                Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), metric(s)),
                    ],
                    Palette99::pick(i).mix(*opacity).filled(),
                )
            }))
            .map_err(err)?;
    }
    Ok(())
}

/// Draws the chart to `path`.
pub fn draw(path: &Path, scenarios: &[ScenarioReport], subtitle: &str) -> Result<(), GatewayError> {
    load_font()?;
    let root = BitMapBackend::new(path, (1200, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(&format!("Köpir GetPerson — {subtitle}"), ("sans-serif", 20))
        .map_err(err)?;
    let (left, right) = root.split_horizontally(600);
    panel(
        &left,
        "throughput (requests/s)",
        scenarios,
        &[(|s| s.throughput, 0.8)],
    )?;
    panel(
        &right,
        "latency (ms): p50 solid, p99 light",
        scenarios,
        &[(|s| s.p99_ms, 0.3), (|s| s.p50_ms, 0.9)],
    )?;
    root.present().map_err(err)?;
    Ok(())
}
