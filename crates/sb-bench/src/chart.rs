//! A grouped bar chart as a PNG (`sb-bench report --chart`): one group per scenario, one bar
//! per server, each bar as high as the server's ratio to the baseline server, whose 1.0 is
//! drawn as a reference line; the value is written above each bar, a legend names the servers.
//!
//! Everything is drawn here pixel by pixel (rectangles, lines, and text in the 8×8 bitmap
//! font of `font8x8`), so the chart needs no system fonts and looks the same on every machine.

use std::io::Cursor;

use font8x8::UnicodeFonts as _;
use image::{ImageFormat, Rgb, RgbImage};

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    /// The servers in bar order; the first is the baseline (its bars are 1.0).
    pub series: Vec<String>,
    pub groups: Vec<BarGroup>,
}

/// The bars of one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct BarGroup {
    pub name: String,
    /// One ratio per series; `None` (or a value that is not a finite, non-negative number):
    /// nothing measured, written as `n/a`.
    pub values: Vec<Option<f64>>,
}

/// Bar colours, one per series in turn; no other part of the chart uses them.
const PALETTE: [Rgb<u8>; 8] = [
    Rgb([31, 119, 180]),
    Rgb([255, 127, 14]),
    Rgb([44, 160, 44]),
    Rgb([214, 39, 40]),
    Rgb([148, 103, 189]),
    Rgb([140, 86, 75]),
    Rgb([227, 119, 194]),
    Rgb([23, 190, 207]),
];
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);
const REFERENCE: Rgb<u8> = Rgb([90, 90, 90]);
const MISSING: Rgb<u8> = Rgb([130, 130, 130]);

/// The colour of series `index`'s bars and legend swatch.
pub fn series_colour(index: usize) -> Rgb<u8> {
    PALETTE[index % PALETTE.len()]
}

/// Side of a glyph of the font, in pixels at scale 1.
const GLYPH: i64 = 8;
const MARGIN: i64 = 16;
/// Room left of the plot for the tick labels.
const AXIS_WIDTH: i64 = 48;
/// Room right of the plot for the reference line's label.
const RIGHT_WIDTH: i64 = 80;
const PLOT_HEIGHT: i64 = 320;
const BAR_WIDTH: i64 = 44;
const BAR_GAP: i64 = 4;
const GROUP_GAP: i64 = 36;
const SWATCH: i64 = 12;

/// Draws `chart` and encodes it as PNG.
pub fn png(chart: &BarChart) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    draw(chart).write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)?;
    Ok(bytes)
}

/// Draws `chart`.
pub fn draw(chart: &BarChart) -> RgbImage {
    let n_series = chart.series.len().max(1) as i64;
    let group_width = n_series * BAR_WIDTH + (n_series - 1) * BAR_GAP;
    let slot = group_width + GROUP_GAP;
    let plot_width = GROUP_GAP + chart.groups.len().max(1) as i64 * slot;

    let title_y = MARGIN;
    let legend_y = title_y + 2 * GLYPH + 12;
    let legend_width: i64 =
        chart.series.iter().map(|name| SWATCH + 6 + text_width(name, 1) + 20).sum();
    let plot_top = legend_y + SWATCH + 24;
    let plot_left = MARGIN + AXIS_WIDTH;
    let plot_bottom = plot_top + PLOT_HEIGHT;
    let width = (plot_left + plot_width + RIGHT_WIDTH)
        .max(MARGIN * 2 + text_width(&chart.title, 2))
        .max(MARGIN * 2 + legend_width);
    let height = plot_bottom + 8 + GLYPH + MARGIN;
    let mut image = RgbImage::from_pixel(to_u32(width), to_u32(height), WHITE);

    text(&mut image, MARGIN, title_y, &chart.title, 2, BLACK);
    let mut x = MARGIN;
    for (index, name) in chart.series.iter().enumerate() {
        rect(&mut image, x, legend_y, SWATCH, SWATCH, series_colour(index));
        text(&mut image, x + SWATCH + 6, legend_y + (SWATCH - GLYPH) / 2, name, 1, BLACK);
        x += SWATCH + 6 + text_width(name, 1) + 20;
    }

    let value = |v: &Option<f64>| v.filter(|v| v.is_finite() && *v >= 0.0);
    let highest =
        chart.groups.iter().flat_map(|g| g.values.iter().filter_map(value)).fold(1.0, f64::max);
    let (top, step) = axis(highest);
    let y_of = |v: f64| plot_bottom - (v / top * PLOT_HEIGHT as f64).round() as i64;

    // Grid and tick labels, then the reference line, all behind the bars.
    let decimals = if step >= 1.0 {
        0
    } else if (step * 10.0).fract() == 0.0 {
        1
    } else {
        2
    };
    let ticks = (top / step).round() as i64;
    for tick in 0..=ticks {
        let v = tick as f64 * step;
        let y = y_of(v);
        rect(&mut image, plot_left, y, plot_width, 1, GRID);
        let label = format!("{v:.decimals$}");
        let label_x = plot_left - 6 - text_width(&label, 1);
        text(&mut image, label_x, y - GLYPH / 2, &label, 1, BLACK);
    }
    let reference = y_of(1.0);
    for dash in (0..plot_width).step_by(10) {
        rect(&mut image, plot_left + dash, reference, 6.min(plot_width - dash), 2, REFERENCE);
    }
    text(&mut image, plot_left + plot_width + 6, reference - GLYPH / 2, "baseline", 1, REFERENCE);
    rect(&mut image, plot_left - 1, plot_top, 1, PLOT_HEIGHT + 1, BLACK);
    rect(&mut image, plot_left - 1, plot_bottom, plot_width + 1, 1, BLACK);

    for (g, group) in chart.groups.iter().enumerate() {
        let group_left = plot_left + GROUP_GAP + g as i64 * slot;
        for (index, v) in group.values.iter().take(chart.series.len()).enumerate() {
            let x = group_left + index as i64 * (BAR_WIDTH + BAR_GAP);
            let centre = x + BAR_WIDTH / 2;
            match value(v) {
                Some(v) => {
                    let bar_top = y_of(v).min(plot_bottom - 1);
                    rect(
                        &mut image,
                        x,
                        bar_top,
                        BAR_WIDTH,
                        plot_bottom - bar_top,
                        series_colour(index),
                    );
                    let label = format!("{v:.2}x");
                    let label_x = centre - text_width(&label, 1) / 2;
                    text(&mut image, label_x, bar_top - GLYPH - 3, &label, 1, BLACK);
                }
                None => {
                    let label_x = centre - text_width("n/a", 1) / 2;
                    text(&mut image, label_x, plot_bottom - GLYPH - 3, "n/a", 1, MISSING);
                }
            }
        }
        // The scenario's name under its group, cut to the group's slot.
        let fits = ((slot - 4) / GLYPH).max(1) as usize;
        let name: String = if group.name.chars().count() > fits {
            group.name.chars().take(fits.saturating_sub(2)).chain("..".chars()).collect()
        } else {
            group.name.clone()
        };
        let name_x = group_left + group_width / 2 - text_width(&name, 1) / 2;
        text(&mut image, name_x, plot_bottom + 8, &name, 1, BLACK);
    }
    image
}

/// The top of the value axis and its tick step for values up to `highest`: a round step
/// (1, 2, 2.5 or 5 times a power of ten) giving at most 6 ticks, with headroom for the labels.
fn axis(highest: f64) -> (f64, f64) {
    let wanted = (highest.max(1.0) * 1.15).min(1e12);
    let raw_step = wanted / 5.0;
    let magnitude = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| wanted / s <= 6.0)
        .unwrap_or(10.0 * magnitude);
    ((wanted / step).ceil() * step, step)
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(1)).unwrap_or(u32::MAX)
}

/// Fills the rectangle, clipped to the image.
fn rect(image: &mut RgbImage, x: i64, y: i64, width: i64, height: i64, colour: Rgb<u8>) {
    let (image_width, image_height) = (i64::from(image.width()), i64::from(image.height()));
    for py in y.max(0)..(y + height).min(image_height) {
        for px in x.max(0)..(x + width).min(image_width) {
            image.put_pixel(px as u32, py as u32, colour);
        }
    }
}

/// Width in pixels of `s` at `scale`.
fn text_width(s: &str, scale: i64) -> i64 {
    s.chars().count() as i64 * GLYPH * scale
}

/// Writes `s` with its top-left corner at (`x`, `y`), each font pixel `scale` pixels wide; a
/// character the font lacks is drawn as `?`.
fn text(image: &mut RgbImage, x: i64, y: i64, s: &str, scale: i64, colour: Rgb<u8>) {
    for (i, c) in s.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(c)
            .or_else(|| font8x8::LATIN_FONTS.get(c))
            .or_else(|| font8x8::BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        let left = x + i as i64 * GLYPH * scale;
        for (row, bits) in glyph.iter().enumerate() {
            for column in 0..8 {
                // Bit 0 is the leftmost pixel of the row.
                if bits & (1 << column) != 0 {
                    let (px, py) = (left + column * scale, y + row as i64 * scale);
                    rect(image, px, py, scale, scale, colour);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
