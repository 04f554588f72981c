//! Writes the results into the book's source: Markdown tables that the
//! chapter includes, SVG charts it shows, and a caption that says on
//! what machine, with what software, and when.
//!
//! Every line written is at most 85 characters, as on every page.

use std::fmt::Write;
use std::io;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::machine::Machine;
use crate::measure::{BurstRow, FanOutRow, IdleRow, Latency, Sizes, WireRow};
use crate::technique::Technique;

/// Everything one run measured.
pub struct Results {
    pub machine: Machine,
    pub sizes: Sizes,
    /// The open-files limit before and after raising it.
    pub open_files: (u64, u64),
    pub wire: Vec<WireRow>,
    pub fan_out: Vec<FanOutRow>,
    pub burst: Vec<BurstRow>,
    pub idle: Vec<IdleRow>,
    /// How long the whole run took, in seconds.
    pub seconds: f64,
}

/// The files this module writes, relative to the output folder.
pub const TABLES: [&str; 7] = [
    "bytes.md",
    "delivery.md",
    "fan-out.md",
    "burst.md",
    "idle.md",
    "targets.md",
    "machine.md",
];
pub const CHARTS: [&str; 4] = ["bytes.svg", "latency.svg", "cpu.svg", "memory.svg"];

/// Writes every table and chart into `dir`.
pub fn write(results: &Results, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tables = [
        bytes_table(results),
        delivery_table(results),
        fan_out_table(results),
        burst_table(results),
        idle_table(results),
        targets_table(results),
        caption(results),
    ];
    for (name, text) in TABLES.iter().zip(tables) {
        std::fs::write(dir.join(name), text)?;
    }
    charts(results, dir).map_err(|e| io::Error::other(e.to_string()))
}

fn one(x: f64) -> String {
    format!("{x:.1}")
}

fn two(x: f64) -> String {
    format!("{x:.2}")
}

/// Microseconds as milliseconds, three significant digits.
fn ms(micros: u64) -> String {
    let ms = micros as f64 / 1000.0;
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn table(header: &[&str], align: &str, rows: Vec<Vec<String>>) -> String {
    let mut out = format!("| {} |\n{align}\n", header.join(" | "));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

/// Wire bytes per delivered message, chat at human pace.
fn bytes_table(r: &Results) -> String {
    let rows = r
        .wire
        .iter()
        .map(|w| {
            vec![
                w.technique.name().to_owned(),
                one(w.down),
                one(w.payload),
                one(w.down - w.payload),
                one(w.floor_down),
                one(w.up),
                one(w.floor_up),
                format!("{:.0}", w.setup),
            ]
        })
        .collect();
    table(
        &[
            "technique",
            "to client",
            "message",
            "overhead",
            "floor",
            "to server",
            "floor",
            "opening",
        ],
        "|---|--:|--:|--:|--:|--:|--:|--:|",
        rows,
    )
}

/// Requests, connections and delivery time, chat at human pace.
fn delivery_table(r: &Results) -> String {
    let rows = r
        .wire
        .iter()
        .map(|w| {
            vec![
                w.technique.name().to_owned(),
                two(w.requests),
                two(w.connections),
                format!("{}/{}", w.delivered, w.expected),
                ms(w.latency.p50),
                ms(w.latency.p99),
            ]
        })
        .collect();
    table(
        &[
            "technique",
            "requests",
            "connections",
            "delivered",
            "p50",
            "p99",
        ],
        "|---|--:|--:|--:|--:|--:|",
        rows,
    )
}

/// The floor's CPU time per message, if it was measured.
fn floor_cpu(r: &Results) -> Option<f64> {
    let floor = r.fan_out.iter().find(|f| f.technique == Technique::Floor);
    floor.map(|f| f.cpu_micros).filter(|c| *c > 0.0)
}

/// Fan-out: many readers, one message at a time.
fn fan_out_table(r: &Results) -> String {
    let floor = floor_cpu(r);
    let rows = r
        .fan_out
        .iter()
        .map(|f| {
            let times = match floor {
                Some(base) => format!("{:.1}×", f.cpu_micros / base),
                None => "n/a".to_owned(),
            };
            vec![
                f.technique.name().to_owned(),
                format!("{}/{}", f.delivered, f.expected),
                format!("{:.0}", f.per_second),
                one(f.cpu_micros),
                times,
                ms(f.latency.p50),
                ms(f.latency.p99),
            ]
        })
        .collect();
    table(
        &[
            "technique",
            "delivered",
            "per second",
            "CPU µs",
            "× bare TCP",
            "p50",
            "p99",
        ],
        "|---|--:|--:|--:|--:|--:|--:|",
        rows,
    )
}

/// The floor's p99 delay in the burst, if it was measured.
fn floor_burst_p99(r: &Results) -> Option<u64> {
    let floor = r.burst.iter().find(|b| b.technique == Technique::Floor);
    floor.map(|b| b.latency.p99).filter(|p| *p > 0)
}

/// The floor's p99 delay in the fan-out rounds, if it was measured.
fn floor_rounds_p99(r: &Results) -> Option<u64> {
    let floor = r.fan_out.iter().find(|f| f.technique == Technique::Floor);
    floor.map(|f| f.latency.p99).filter(|p| *p > 0)
}

/// Burst: many readers, many messages posted back to back.
fn burst_table(r: &Results) -> String {
    let floor = floor_burst_p99(r);
    let rows = r
        .burst
        .iter()
        .map(|b| {
            let times = match floor {
                Some(base) => format!("{:.1}×", b.latency.p99 as f64 / base as f64),
                None => "n/a".to_owned(),
            };
            vec![
                b.technique.name().to_owned(),
                format!("{}/{}", b.delivered, b.expected),
                ms(b.latency.p50),
                ms(b.latency.p99),
                ms(b.latency.max),
                times,
            ]
        })
        .collect();
    table(
        &[
            "technique",
            "delivered",
            "p50",
            "p99",
            "max",
            "p99 × bare TCP",
        ],
        "|---|--:|--:|--:|--:|--:|",
        rows,
    )
}

/// Server memory per idle reader, in KiB, one column per size.
fn idle_table(r: &Results) -> String {
    let sizes = &r.sizes.idle;
    let mut header = vec!["technique".to_owned()];
    header.extend(sizes.iter().map(|n| format!("{} idle", thousands(*n))));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let align = format!("|---|{}", "--:|".repeat(sizes.len()));
    let mut rows = Vec::new();
    for technique in techniques(r) {
        let mut row = vec![technique.name().to_owned()];
        for n in sizes {
            let found = r
                .idle
                .iter()
                .find(|i| i.technique == technique && i.clients == *n);
            row.push(found.map_or("n/a".to_owned(), |i| one(i.per_client / 1024.0)));
        }
        rows.push(row);
    }
    table(&header, &align, rows)
}

/// The techniques of this run, in the book's order.
fn techniques(r: &Results) -> Vec<Technique> {
    Technique::ALL
        .into_iter()
        .filter(|t| {
            r.wire.iter().any(|w| w.technique == *t)
                || r.fan_out.iter().any(|f| f.technique == *t)
                || r.idle.iter().any(|i| i.technique == *t)
        })
        .collect()
}

/// The goals of the chapter, each with what this run measured.
fn targets_table(r: &Results) -> String {
    let yes_no = |met: bool| if met { "yes" } else { "no" }.to_owned();
    let mut rows = Vec::new();
    for w in r.wire.iter().filter(|w| w.technique != Technique::Floor) {
        let overhead = w.down - w.payload;
        rows.push(vec![
            format!("{}: overhead to client = floor", w.technique.name()),
            format!("{} B, floor {} B", one(overhead), one(w.floor_down)),
            yes_no(overhead <= w.floor_down + 0.05),
        ]);
    }
    let largest = r.sizes.idle.iter().copied().max().unwrap_or(0);
    for (technique, kib) in [(Technique::Sse, 16.0), (Technique::WebSocket, 6.0)] {
        let found = r
            .idle
            .iter()
            .find(|i| i.technique == technique && i.clients == largest);
        if let Some(i) = found {
            let measured = i.per_client / 1024.0;
            rows.push(vec![
                format!("{}: ≤ {kib} KiB per idle connection", technique.name()),
                format!("{} KiB at {}", one(measured), thousands(largest)),
                yes_no(measured <= kib),
            ]);
        }
    }
    let long = r
        .fan_out
        .iter()
        .find(|f| f.technique == Technique::LongPolling);
    if let Some(f) = long {
        rows.push(vec![
            format!("long polling: p99 ≤ 5 ms, {} parked", thousands(f.clients)),
            ms(f.latency.p99),
            yes_no(f.latency.p99 <= 5000),
        ]);
    }
    let streams = [Technique::Sse, Technique::WebSocket];
    if let Some(base) = floor_cpu(r) {
        for technique in streams {
            let found = r.fan_out.iter().find(|f| f.technique == technique);
            if let Some(f) = found {
                let times = f.cpu_micros / base;
                rows.push(vec![
                    format!("{}: CPU ≤ 1.3× bare TCP", technique.name()),
                    format!("{times:.1}×"),
                    yes_no(times <= 1.3),
                ]);
            }
        }
    }
    let p99s = [
        ("rounds", floor_rounds_p99(r), {
            let of = |t| r.fan_out.iter().find(|f| f.technique == t);
            streams.map(|t| of(t).map(|f| f.latency.p99))
        }),
        ("burst", floor_burst_p99(r), {
            let of = |t| r.burst.iter().find(|b| b.technique == t);
            streams.map(|t| of(t).map(|b| b.latency.p99))
        }),
    ];
    for (run, floor, measured) in p99s {
        let Some(base) = floor else { continue };
        for (technique, p99) in streams.iter().zip(measured) {
            let Some(p99) = p99 else { continue };
            let times = p99 as f64 / base as f64;
            rows.push(vec![
                format!("{}: p99 ≤ 2× bare TCP, {run}", technique.name()),
                format!("{} ({times:.1}×)", ms(p99)),
                yes_no(times <= 2.0),
            ]);
        }
    }
    table(&["target", "measured", "met"], "|---|--:|---|", rows)
}

/// Wraps `text` at 85 characters, the width of the book's pages.
pub fn wrap(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > 85 {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The caption: machine, software, date, sizes, how busy it was.
fn caption(r: &Results) -> String {
    let m = &r.machine;
    let s = &r.sizes;
    let idle: Vec<String> = s.idle.iter().map(|n| thousands(*n)).collect();
    let text = format!(
        "Measured on {date} on {cpus} CPU cores ({model}) with {mem:.1} GiB of \
         memory, Linux {kernel}, {rustc}, {libs}, in a {build} build. The load \
         average was {before} before the run and {after} after it (a quiet \
         machine is well under 1). Chat at human pace: {clients} readers, \
         {messages} messages, one every {gap} s, polling every {interval} s, \
         through the tap. Fan-out: {fan} readers, up to {rounds} rounds or \
         {time} s, {repeats} times for each technique, in turns; the table \
         shows the run with the median CPU time. Burst: {fan} readers, \
         {burst} messages posted back to back. Idle: {idle} readers. \
         {files} The whole run took {secs:.0} s.{busy}",
        date = m.date,
        build = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        cpus = m.cpus,
        model = m.cpu_model,
        mem = m.memory_gib,
        kernel = m.kernel,
        rustc = m.rustc,
        libs = m.libraries.join(", "),
        before = m.load_before,
        after = m.load_after,
        clients = s.clients,
        messages = s.messages,
        gap = s.gap.as_secs_f64(),
        interval = s.interval.as_secs_f64(),
        fan = thousands(s.fan_out_clients),
        rounds = s.rounds,
        repeats = s.repeats,
        burst = s.burst,
        time = s.fan_out_time.as_secs(),
        idle = idle.join(" and "),
        files = open_files(r.open_files),
        secs = r.seconds,
        busy = busy(m),
    );
    wrap(&text)
}

/// What the harness did to the limit on open files.
fn open_files((before, after): (u64, u64)) -> String {
    if before == after {
        format!(
            "The limit on open files was {after}, the hard limit, for the \
             harness and its servers."
        )
    } else {
        format!(
            "The harness raised the limit on open files from {before} to \
             {after}, the hard limit, for itself and its servers."
        )
    }
}

/// A warning when other programs shared the machine.
fn busy(m: &Machine) -> &'static str {
    let load = |text: &str| text.parse::<f64>().unwrap_or(f64::MAX);
    if load(&m.load_before) < 1.0 && load(&m.load_after) < 1.0 {
        return "";
    }
    " The machine was busy with other work during this run: the times and CPU \
     numbers are upper bounds, and must be measured again on a quiet machine."
}

type Draw = Result<(), Box<dyn std::error::Error>>;

fn charts(r: &Results, dir: &Path) -> Draw {
    let names = |t: &[Technique]| t.iter().map(|t| t.name()).collect::<Vec<_>>();
    let wire: Vec<Technique> = r.wire.iter().map(|w| w.technique).collect();
    bars(
        &dir.join("bytes.svg"),
        "Overhead bytes per delivered message, server to client",
        "bytes (log scale)",
        &names(&wire),
        &[
            (
                "measured",
                r.wire.iter().map(|w| w.down - w.payload).collect(),
            ),
            ("floor", r.wire.iter().map(|w| w.floor_down).collect()),
        ],
        true,
    )?;
    let fan: Vec<Technique> = r.fan_out.iter().map(|f| f.technique).collect();
    let lat = |f: fn(&Latency) -> u64| {
        r.fan_out
            .iter()
            .map(|x| f(&x.latency) as f64 / 1000.0)
            .collect::<Vec<f64>>()
    };
    let title = format!(
        "POST to receipt, {} readers",
        thousands(r.sizes.fan_out_clients)
    );
    bars(
        &dir.join("latency.svg"),
        &title,
        "milliseconds (log scale)",
        &names(&fan),
        &[("p50", lat(|l| l.p50)), ("p99", lat(|l| l.p99))],
        true,
    )?;
    bars(
        &dir.join("cpu.svg"),
        "Server CPU time per delivered message",
        "microseconds",
        &names(&fan),
        &[("CPU", r.fan_out.iter().map(|f| f.cpu_micros).collect())],
        false,
    )?;
    let all = techniques(r);
    let series: Vec<(String, Vec<f64>)> = r
        .sizes
        .idle
        .iter()
        .map(|n| {
            let values = all
                .iter()
                .map(|t| {
                    let found =
                        r.idle.iter().find(|i| i.technique == *t && i.clients == *n);
                    found.map_or(0.0, |i| i.per_client / 1024.0)
                })
                .collect();
            (format!("{} idle", thousands(*n)), values)
        })
        .collect();
    let series: Vec<(&str, Vec<f64>)> = series
        .iter()
        .map(|(name, v)| (name.as_str(), v.clone()))
        .collect();
    bars(
        &dir.join("memory.svg"),
        "Server memory per idle connection",
        "KiB",
        &names(&all),
        &series,
        false,
    )
}

const COLORS: [RGBColor; 3] = [
    RGBColor(0x33, 0x66, 0x99),
    RGBColor(0xcc, 0x77, 0x33),
    RGBColor(0x66, 0x99, 0x55),
];

/// A horizontal bar chart: one group of bars per technique, one bar
/// per series.
fn bars(
    path: &Path,
    title: &str,
    unit: &str,
    names: &[&str],
    series: &[(&str, Vec<f64>)],
    log: bool,
) -> Draw {
    let root = SVGBackend::new(path, (720, 60 + 70 * names.len() as u32))
        .into_drawing_area();
    root.fill(&WHITE)?;
    let values = series.iter().flat_map(|(_, v)| v.iter().copied());
    let top = values.fold(0.0f64, f64::max).max(1.0) * 1.15;
    let rows = names.len() as f64;
    let per = 0.8 / series.len() as f64;
    // Group i spans y from rows-1-i to rows-i; its bars stack inside.
    let bar = |i: usize, s: usize| {
        let top_y = rows - i as f64 - 0.1 - per * s as f64;
        (top_y - per, top_y)
    };
    let mut chart = ChartBuilder::on(&root);
    chart
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(110);
    if log {
        let values = series.iter().flat_map(|(_, v)| v.iter().copied());
        let least = values.filter(|v| *v > 0.0).fold(1.0f64, f64::min);
        let low = least * 0.5;
        let mut chart =
            chart.build_cartesian_2d((low..top).log_scale(), 0.0..rows)?;
        chart
            .configure_mesh()
            .x_desc(unit)
            .y_labels(0)
            .disable_y_mesh()
            .draw()?;
        for (s, (name, values)) in series.iter().enumerate() {
            let color = COLORS[s % COLORS.len()];
            let rects = values.iter().enumerate().map(|(i, v)| {
                let (y0, y1) = bar(i, s);
                Rectangle::new([(low, y0), (v.max(low), y1)], color.filled())
            });
            chart
                .draw_series(rects)?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        legend(&mut chart)?;
        let at = |i: usize| chart.backend_coord(&(low, rows - i as f64 - 0.5));
        label(&root, names, at)?;
    } else {
        let mut chart = chart.build_cartesian_2d(0.0..top, 0.0..rows)?;
        chart
            .configure_mesh()
            .x_desc(unit)
            .y_labels(0)
            .disable_y_mesh()
            .draw()?;
        for (s, (name, values)) in series.iter().enumerate() {
            let color = COLORS[s % COLORS.len()];
            let rects = values.iter().enumerate().map(|(i, v)| {
                let (y0, y1) = bar(i, s);
                Rectangle::new([(0.0, y0), (*v, y1)], color.filled())
            });
            chart
                .draw_series(rects)?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        legend(&mut chart)?;
        let at = |i: usize| chart.backend_coord(&(0.0, rows - i as f64 - 0.5));
        label(&root, names, at)?;
    }
    root.present()?;
    Ok(())
}

/// Writes each technique's name left of its group of bars.
fn label(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    names: &[&str],
    at: impl Fn(usize) -> (i32, i32),
) -> Draw {
    let style =
        TextStyle::from(("sans-serif", 14)).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, name) in names.iter().enumerate() {
        let (x, y) = at(i);
        root.draw(&Text::new(name.to_string(), (x - 8, y), style.clone()))?;
    }
    Ok(())
}

fn legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
) -> Draw
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
