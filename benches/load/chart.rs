//! The PNG chart: requests to the busiest vault in the trailing 10 s, over time, per mode, with
//! Key Vault's limit and akvsync's budget drawn. Drawn on an RGB buffer and encoded with `png`
//! (a plotting crate would bring an image stack and system fonts for one line chart); labels
//! use a 3×5 pixel font.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context as _;

const WIDTH: usize = 960;
const HEIGHT: usize = 540;
const LEFT: usize = 90;
const RIGHT: usize = 30;
const TOP: usize = 60;
const BOTTOM: usize = 60;
/// Each font pixel is drawn as a SCALE × SCALE square.
const SCALE: usize = 2;

type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
const LIMIT: Rgb = [200, 30, 30];
const BUDGET: Rgb = [230, 140, 0];
/// Line colours of the modes, in order.
const MODES: [Rgb; 3] = [[20, 90, 200], [120, 120, 120], [40, 160, 60]];

struct Canvas {
    pixels: Vec<u8>,
}

impl Canvas {
    fn new() -> Self {
        Self {
            pixels: WHITE.repeat(WIDTH * HEIGHT),
        }
    }

    fn set(&mut self, x: i64, y: i64, color: Rgb) {
        if x < 0 || y < 0 || x as usize >= WIDTH || y as usize >= HEIGHT {
            return;
        }
        let offset = (y as usize * WIDTH + x as usize) * 3;
        self.pixels[offset..offset + 3].copy_from_slice(&color);
    }

    /// A line two pixels thick; `dash` > 0 draws `dash` pixels on, `dash` off.
    fn line(&mut self, from: (i64, i64), to: (i64, i64), color: Rgb, dash: i64) {
        let steps = (to.0 - from.0).abs().max((to.1 - from.1).abs()).max(1);
        for step in 0..=steps {
            if dash > 0 && (step / dash) % 2 == 1 {
                continue;
            }
            let x = from.0 + (to.0 - from.0) * step / steps;
            let y = from.1 + (to.1 - from.1) * step / steps;
            self.set(x, y, color);
            self.set(x, y + 1, color);
        }
    }

    fn text(&mut self, x: i64, y: i64, text: &str, color: Rgb) {
        for (index, character) in text.chars().enumerate() {
            let glyph = glyph(character.to_ascii_uppercase());
            let origin = x + (index * 4 * SCALE) as i64;
            for (row, bits) in glyph.iter().enumerate() {
                for column in 0..3 {
                    if bits & (0b100 >> column) != 0 {
                        for dy in 0..SCALE {
                            for dx in 0..SCALE {
                                self.set(
                                    origin + (column * SCALE + dx) as i64,
                                    y + (row * SCALE + dy) as i64,
                                    color,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

fn text_width(text: &str) -> i64 {
    (text.chars().count() * 4 * SCALE) as i64
}

/// Draws the series (mode name, (seconds, requests)) into `path`.
pub fn draw(
    path: &Path,
    series: &[(&str, &[(f64, u64)])],
    limit: u64,
    budget: u64,
) -> anyhow::Result<()> {
    let mut canvas = Canvas::new();
    let max_time = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|(time, _)| *time))
        .fold(10.0_f64, f64::max);
    let max_value = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|(_, value)| *value))
        .fold(limit, u64::max) as f64
        * 1.1;
    let plot_width = (WIDTH - LEFT - RIGHT) as f64;
    let plot_height = (HEIGHT - TOP - BOTTOM) as f64;
    let x_of = |time: f64| LEFT as i64 + (time / max_time * plot_width) as i64;
    let y_of = |value: f64| (HEIGHT - BOTTOM) as i64 - (value / max_value * plot_height) as i64;

    // Grid and axis labels: five steps on each axis.
    for step in 0..=5 {
        let value = max_value * f64::from(step) / 5.0;
        let y = y_of(value);
        canvas.line((LEFT as i64, y), ((WIDTH - RIGHT) as i64, y), GRID, 0);
        let label = format!("{value:.0}");
        canvas.text(LEFT as i64 - 8 - text_width(&label), y - 5, &label, BLACK);
        let time = max_time * f64::from(step) / 5.0;
        let x = x_of(time);
        canvas.line((x, TOP as i64), (x, (HEIGHT - BOTTOM) as i64), GRID, 0);
        let label = format!("{time:.0}");
        canvas.text(
            x - text_width(&label) / 2,
            (HEIGHT - BOTTOM) as i64 + 10,
            &label,
            BLACK,
        );
    }
    canvas.line(
        (LEFT as i64, TOP as i64),
        (LEFT as i64, (HEIGHT - BOTTOM) as i64),
        BLACK,
        0,
    );
    canvas.line(
        (LEFT as i64, (HEIGHT - BOTTOM) as i64),
        ((WIDTH - RIGHT) as i64, (HEIGHT - BOTTOM) as i64),
        BLACK,
        0,
    );
    canvas.text(
        (WIDTH / 2) as i64 - text_width("SECONDS SINCE THE EMULATOR STARTED") / 2,
        (HEIGHT - 24) as i64,
        "seconds since the emulator started",
        BLACK,
    );
    canvas.text(
        10,
        14,
        "Key Vault requests in the trailing 10 s, busiest vault",
        BLACK,
    );

    // The vault's limit and akvsync's budget.
    canvas.line(
        (LEFT as i64, y_of(limit as f64)),
        ((WIDTH - RIGHT) as i64, y_of(limit as f64)),
        LIMIT,
        8,
    );
    canvas.line(
        (LEFT as i64, y_of(budget as f64)),
        ((WIDTH - RIGHT) as i64, y_of(budget as f64)),
        BUDGET,
        4,
    );

    for (index, (_, points)) in series.iter().enumerate() {
        let color = MODES[index % MODES.len()];
        for pair in points.windows(2) {
            let (t0, v0) = pair[0];
            let (t1, v1) = pair[1];
            canvas.line(
                (x_of(t0), y_of(v0 as f64)),
                (x_of(t1), y_of(v1 as f64)),
                color,
                0,
            );
        }
    }

    // Legend.
    let mut legend: Vec<(String, Rgb)> = series
        .iter()
        .enumerate()
        .map(|(index, (name, _))| ((*name).to_owned(), MODES[index % MODES.len()]))
        .collect();
    legend.push((format!("vault limit {limit}"), LIMIT));
    legend.push((format!("akvsync budget {budget}"), BUDGET));
    let mut x = LEFT as i64;
    for (label, color) in legend {
        canvas.line((x, 40), (x + 24, 40), color, 0);
        canvas.text(x + 30, 35, &label, BLACK);
        x += 30 + text_width(&label) + 30;
    }

    save(&canvas, path)
}

/// Line colours of the log-log chart's quantities, in order.
const QUANTITIES: [Rgb; 6] = [
    [20, 90, 200],
    [40, 160, 60],
    [200, 30, 30],
    [230, 140, 0],
    [140, 60, 170],
    [0, 150, 150],
];

/// Draws each quantity (name, (N, value relative to its first)) on log-log axes into `path`,
/// with a dashed line for linear growth.
pub fn draw_log_log(path: &Path, series: &[(&str, Vec<(f64, f64)>)]) -> anyhow::Result<()> {
    let mut canvas = Canvas::new();
    let sizes = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|(n, _)| *n));
    let min_n = sizes.clone().fold(f64::INFINITY, f64::min);
    let max_n = sizes.fold(0.0_f64, f64::max);
    if !(min_n.is_finite() && max_n > min_n) {
        return save(&canvas, path);
    }
    let linear_top = max_n / min_n;
    let values = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|(_, value)| *value));
    let low = values.clone().fold(1.0_f64, f64::min).log10().floor();
    let high = values
        .fold(linear_top, f64::max)
        .log10()
        .ceil()
        .max(low + 1.0);
    let (x_low, x_high) = (min_n.log10().floor(), max_n.log10().ceil());
    let plot_width = (WIDTH - LEFT - RIGHT) as f64;
    let plot_height = (HEIGHT - TOP - BOTTOM) as f64;
    let x_of = |n: f64| LEFT as i64 + ((n.log10() - x_low) / (x_high - x_low) * plot_width) as i64;
    let y_of = |value: f64| {
        (HEIGHT - BOTTOM) as i64 - ((value.log10() - low) / (high - low) * plot_height) as i64
    };
    for decade in (x_low as i32)..=(x_high as i32) {
        let n = 10f64.powi(decade);
        let x = x_of(n);
        canvas.line((x, TOP as i64), (x, (HEIGHT - BOTTOM) as i64), GRID, 0);
        let label = format!("{n:.0}");
        canvas.text(
            x - text_width(&label) / 2,
            (HEIGHT - BOTTOM) as i64 + 10,
            &label,
            BLACK,
        );
    }
    for decade in (low as i32)..=(high as i32) {
        let value = 10f64.powi(decade);
        let y = y_of(value);
        canvas.line((LEFT as i64, y), ((WIDTH - RIGHT) as i64, y), GRID, 0);
        let label = if decade >= 0 {
            format!("{value:.0}")
        } else {
            format!("{value}")
        };
        canvas.text(LEFT as i64 - 8 - text_width(&label), y - 5, &label, BLACK);
    }
    canvas.text(
        (WIDTH / 2) as i64 - text_width("EXTERNALSECRETS (LOG)") / 2,
        (HEIGHT - 24) as i64,
        "ExternalSecrets (log)",
        BLACK,
    );
    canvas.text(
        10,
        8,
        "Growth relative to the smallest size (log-log), dashed = linear",
        BLACK,
    );
    let mut legend = (LEFT as i64, 26_i64);
    for (index, (name, points)) in series.iter().enumerate() {
        let color = QUANTITIES[index % QUANTITIES.len()];
        for pair in points.windows(2) {
            canvas.line(
                (x_of(pair[0].0), y_of(pair[0].1)),
                (x_of(pair[1].0), y_of(pair[1].1)),
                color,
                0,
            );
        }
        let width = 30 + text_width(name) + 30;
        if legend.0 + width > (WIDTH - RIGHT) as i64 {
            legend = (LEFT as i64, legend.1 + 14);
        }
        canvas.line(
            (legend.0, legend.1 + 5),
            (legend.0 + 24, legend.1 + 5),
            color,
            0,
        );
        canvas.text(legend.0 + 30, legend.1, name, BLACK);
        legend.0 += width;
    }
    // Linear growth, drawn last so a quantity that grows linearly does not hide it.
    canvas.line(
        (x_of(min_n), y_of(1.0)),
        (x_of(max_n), y_of(linear_top)),
        BLACK,
        6,
    );
    save(&canvas, path)
}

fn save(canvas: &Canvas, path: &Path) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), WIDTH as u32, HEIGHT as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&canvas.pixels)?;
    writer.finish()?;
    Ok(())
}

/// Rows of a 3×5 glyph, top to bottom, 3 bits each (most significant bit leftmost).
fn glyph(character: char) -> [u8; 5] {
    match character {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b001, 0b001, 0b001],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        'A' => [0b010, 0b101, 0b111, 0b101, 0b101],
        'B' => [0b110, 0b101, 0b110, 0b101, 0b110],
        'C' => [0b011, 0b100, 0b100, 0b100, 0b011],
        'D' => [0b110, 0b101, 0b101, 0b101, 0b110],
        'E' => [0b111, 0b100, 0b110, 0b100, 0b111],
        'F' => [0b111, 0b100, 0b110, 0b100, 0b100],
        'G' => [0b011, 0b100, 0b101, 0b101, 0b011],
        'H' => [0b101, 0b101, 0b111, 0b101, 0b101],
        'I' => [0b111, 0b010, 0b010, 0b010, 0b111],
        'J' => [0b001, 0b001, 0b001, 0b101, 0b010],
        'K' => [0b101, 0b101, 0b110, 0b101, 0b101],
        'L' => [0b100, 0b100, 0b100, 0b100, 0b111],
        'M' => [0b101, 0b111, 0b111, 0b101, 0b101],
        'N' => [0b110, 0b101, 0b101, 0b101, 0b101],
        'O' => [0b010, 0b101, 0b101, 0b101, 0b010],
        'P' => [0b110, 0b101, 0b110, 0b100, 0b100],
        'Q' => [0b010, 0b101, 0b101, 0b110, 0b011],
        'R' => [0b110, 0b101, 0b110, 0b101, 0b101],
        'S' => [0b011, 0b100, 0b010, 0b001, 0b110],
        'T' => [0b111, 0b010, 0b010, 0b010, 0b010],
        'U' => [0b101, 0b101, 0b101, 0b101, 0b111],
        'V' => [0b101, 0b101, 0b101, 0b101, 0b010],
        'W' => [0b101, 0b101, 0b111, 0b111, 0b101],
        'X' => [0b101, 0b101, 0b010, 0b101, 0b101],
        'Y' => [0b101, 0b101, 0b010, 0b010, 0b010],
        'Z' => [0b111, 0b001, 0b010, 0b100, 0b111],
        '/' => [0b001, 0b001, 0b010, 0b100, 0b100],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        ',' => [0b000, 0b000, 0b000, 0b010, 0b100],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        '(' => [0b010, 0b100, 0b100, 0b100, 0b010],
        ')' => [0b010, 0b001, 0b001, 0b001, 0b010],
        _ => [0; 5],
    }
}
