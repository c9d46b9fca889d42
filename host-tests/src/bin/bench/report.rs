//! What the benchmark prints: the cells of the main table, the throughput-at-latency frontier,
//! memory, and the targets met or missed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::load::Run;
use crate::processes::rss_kib;

/// One scenario at one concurrency: straight to the provider, through the bare proxy, through
/// the least wasi:http component on Apex's host (with `--floor`), and through Apex.
pub struct Cell {
    pub scenario: &'static str,
    pub stream: bool,
    pub concurrency: usize,
    pub direct: Run,
    pub bare: Run,
    pub least: Option<Run>,
    pub via: Run,
}

pub fn print_cell_header() {
    println!(
        "| scenario | conc. | direct p50 ms | via Apex p50 ms | added p50 ms | direct p99 ms | via Apex p99 ms | added p99 ms | via Apex p99.9 ms | added p99.9 ms | direct req/s | via Apex req/s | TTFB added p50 / p99 ms | CPU µs/req |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
}

/// What a proxy added over the direct call in one cell (ms; a negative value is noise).
pub struct Added<'a> {
    direct: &'a Run,
    through: &'a Run,
}

impl<'a> Added<'a> {
    /// The run through the proxy.
    pub fn run(&self) -> &'a Run {
        self.through
    }

    pub fn p50(&self) -> f64 {
        self.through.p50 - self.direct.p50
    }

    pub fn p99(&self) -> f64 {
        self.through.p99 - self.direct.p99
    }

    pub fn p999(&self) -> f64 {
        self.through.p999 - self.direct.p999
    }

    pub fn ttfb_p50(&self) -> f64 {
        self.through.ttfb_p50 - self.direct.ttfb_p50
    }

    pub fn ttfb_p99(&self) -> f64 {
        self.through.ttfb_p99 - self.direct.ttfb_p99
    }
}

impl Cell {
    /// What Apex added.
    pub fn apex(&self) -> Added<'_> {
        Added {
            direct: &self.direct,
            through: &self.via,
        }
    }

    /// What the bare proxy added.
    pub fn bare_proxy(&self) -> Added<'_> {
        Added {
            direct: &self.direct,
            through: &self.bare,
        }
    }

    /// What the least wasi:http component added on Apex's host (when the run has it).
    pub fn least_component(&self) -> Option<Added<'_>> {
        self.least.as_ref().map(|through| Added {
            direct: &self.direct,
            through,
        })
    }

    pub fn print(&self) {
        let ttfb = if self.stream {
            format!(
                "{:.3} / {:.3}",
                self.apex().ttfb_p50(),
                self.apex().ttfb_p99()
            )
        } else {
            "–".to_string()
        };
        let failures = if self.via.failures.is_empty() && self.direct.failures.is_empty() {
            String::new()
        } else {
            format!(
                " (failures: direct {:?}, via {:?})",
                self.direct.failures, self.via.failures
            )
        };
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} | {ttfb} | {} |{failures}",
            self.scenario,
            self.concurrency,
            self.direct.p50,
            self.via.p50,
            self.apex().p50(),
            self.direct.p99,
            self.via.p99,
            self.apex().p99(),
            self.via.p999,
            self.apex().p999(),
            self.direct.rps,
            self.via.rps,
            cpu(&self.via),
        );
    }
}

fn cpu(run: &Run) -> String {
    run.cpu_per_request
        .map_or_else(|| "–".to_string(), |us| format!("{us:.0}"))
}

/// What the bare proxy (no Wasm, no gateway work) added in each cell, next to Apex.
pub fn print_bare_proxy_cells(cells: &[Cell]) {
    print_baseline_cells("bare proxy", cells, |cell| Some(cell.bare_proxy()));
}

/// What the least wasi:http component (`--floor`) added on Apex's host in each cell, next to
/// Apex; nothing when the run has no such baseline.
pub fn print_least_component_cells(cells: &[Cell]) {
    if cells.iter().all(|cell| cell.least.is_none()) {
        return;
    }
    println!();
    print_baseline_cells("least component", cells, Cell::least_component);
}

fn print_baseline_cells<'a>(
    name: &str,
    cells: &'a [Cell],
    baseline: impl Fn(&'a Cell) -> Option<Added<'a>>,
) {
    println!(
        "| scenario | conc. | {name} added p50 ms | added p99 ms | added p99.9 ms | TTFB added p99 ms | {name} req/s | via Apex req/s | CPU µs/req {name} | CPU µs/req Apex |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for cell in cells {
        let Some(added) = baseline(cell) else {
            continue;
        };
        let run = added.run();
        let ttfb = if cell.stream {
            format!("{:.3}", added.ttfb_p99())
        } else {
            "–".to_string()
        };
        let failures = if run.failures.is_empty() {
            String::new()
        } else {
            format!(" (failures: {:?})", run.failures)
        };
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {ttfb} | {:.0} | {:.0} | {} | {} |{failures}",
            cell.scenario,
            cell.concurrency,
            added.p50(),
            added.p99(),
            added.p999(),
            run.rps,
            cell.via.rps,
            cpu(run),
            cpu(&cell.via),
        );
    }
}

/// The latency bounds the frontier is read at, in ms.
const BOUNDS: [f64; 3] = [1.0, 5.0, 10.0];

/// For one scenario through Apex, the most requests per second seen with p99 within each bound.
pub struct Frontier {
    scenario: &'static str,
    best: [Option<(f64, usize)>; 3],
}

impl Frontier {
    pub fn new(scenario: &'static str) -> Self {
        Self {
            scenario,
            best: [None; 3],
        }
    }

    /// Count a run (at some concurrency) toward each bound it stays within.
    pub fn add(&mut self, run: &Run, concurrency: usize) {
        if !run.failures.is_empty() {
            return;
        }
        for (bound, best) in BOUNDS.iter().zip(self.best.iter_mut()) {
            if run.p99 <= *bound && best.is_none_or(|(rps, _)| run.rps > rps) {
                *best = Some((run.rps, concurrency));
            }
        }
    }
}

pub fn print_frontiers(frontiers: &[Frontier]) {
    println!(
        "| via Apex: most req/s with p99 within (concurrency 1–64) | p99 ≤ 1 ms | p99 ≤ 5 ms | p99 ≤ 10 ms |"
    );
    println!("|---|---|---|---|");
    for frontier in frontiers {
        let cells: Vec<String> = frontier
            .best
            .iter()
            .map(|best| match best {
                Some((rps, concurrency)) => format!("{rps:.0} (c={concurrency})"),
                None => "none".to_string(),
            })
            .collect();
        println!("| {} | {} |", frontier.scenario, cells.join(" | "));
    }
}

/// The gateway's resident memory at the points that matter, KiB.
#[derive(Default)]
pub struct Memory {
    pub idle: Option<u64>,
    /// The most seen during the runs at concurrency 1–64 (stored responses included).
    pub steady: u64,
    /// A fresh process for the crowd runs: idle, then the most seen during a second at
    /// concurrency 16 ("warm").
    pub idle_fresh: Option<u64>,
    pub warm: u64,
    pub at_256: u64,
    pub at_1024: u64,
    /// After the crowd runs, once idle instances have been dropped.
    pub recovered: Option<u64>,
    /// The most ever (`VmHWM`).
    pub peak: Option<u64>,
}

impl Memory {
    pub fn print(&self) {
        println!(
            "memory (RSS, MiB): idle {}, steady under the runs above (c ≤ 64, stored responses included) {}; \
             a fresh process: idle {}, warm (c=16) {}, at c=256 {}, at c=1024 {}, recovered 12 s after the load {}, highest {}",
            mib(self.idle),
            mib(Some(self.steady)),
            mib(self.idle_fresh),
            mib(Some(self.warm)),
            mib(Some(self.at_256)),
            mib(Some(self.at_1024)),
            mib(self.recovered),
            mib(self.peak)
        );
    }
}

pub fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1}", k as f64 / 1024.0))
        .unwrap_or_else(|| "?".into())
}

/// Samples a process's RSS every 50 ms while a run goes; the highest seen.
pub struct RssSampler {
    done: Arc<AtomicBool>,
    highest: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let highest = Arc::new(AtomicU64::new(0));
        let task = {
            let (done, highest) = (Arc::clone(&done), Arc::clone(&highest));
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_kib(pid, "VmRSS:") {
                        highest.fetch_max(rss, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        Self {
            done,
            highest,
            task,
        }
    }

    pub async fn stop(self) -> u64 {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.highest.load(Ordering::Relaxed)
    }
}

/// One performance target: what Apex, the bare proxy and the least component (when measured)
/// did in this run, and whether Apex met it (`None`: no verdict).
struct TargetRow {
    target: String,
    apex: String,
    bare: String,
    least: Option<String>,
    met: Option<bool>,
}

/// Each target of the performance issue, checked against this run's numbers.
pub fn print_targets(cells: &[Cell], crowds: &[(&str, usize, Run)], memory: &Memory) {
    let cell = |name: &str, concurrency: usize| {
        cells
            .iter()
            .find(|c| c.scenario.starts_with(name) && c.concurrency == concurrency)
    };
    // Each target: what this run measured through Apex, the same measure through the bare
    // proxy (what any proxy gets on this machine) and through the least wasi:http component on
    // Apex's host (what any component gets; with `--floor`), `–` where it does not apply; met or
    // not.
    let mut rows: Vec<TargetRow> = Vec::new();
    let mut row =
        |target: &str, apex: String, bare: String, least: Option<String>, met: Option<bool>| {
            rows.push(TargetRow {
                target: target.to_string(),
                apex,
                bare,
                least,
                met,
            })
        };
    let none = || "–".to_string();
    let ms = |v: f64| format!("{v:.3} ms");
    let rps = |run: &Run, unit: &str| format!("{:.0} {unit}", run.rps);
    if let Some(c) = cell("small chat (forwarded)", 1) {
        let (a, b, least) = (c.apex(), c.bare_proxy(), c.least_component());
        row(
            "small chat forwarded, c=1: added p50 ≤ 0.08 ms",
            ms(a.p50()),
            ms(b.p50()),
            least.as_ref().map(|l| ms(l.p50())),
            Some(a.p50() <= 0.08),
        );
        row(
            "small chat forwarded, c=1: added p99 ≤ 0.2 ms",
            ms(a.p99()),
            ms(b.p99()),
            least.as_ref().map(|l| ms(l.p99())),
            Some(a.p99() <= 0.2),
        );
        row(
            "small chat forwarded, c=1: p99.9 ≤ 1 ms",
            ms(c.via.p999),
            ms(c.bare.p999),
            c.least.as_ref().map(|run| ms(run.p999)),
            Some(c.via.p999 <= 1.0),
        );
    }
    if let (Some(c16), Some(c64)) = (
        cell("small chat (forwarded)", 16),
        cell("small chat (forwarded)", 64),
    ) {
        let third = c16.direct.rps / 3.0;
        row(
            "small chat forwarded, c=16: ≥ 25,000 req/s and ≥ a third of direct",
            format!(
                "{:.0} req/s (direct {:.0}, a third: {third:.0})",
                c16.via.rps, c16.direct.rps
            ),
            rps(&c16.bare, "req/s"),
            c16.least.as_ref().map(|run| rps(run, "req/s")),
            Some(c16.via.rps >= 25_000.0 && c16.via.rps >= third),
        );
        row(
            "small chat forwarded, c=64: no worse than c=16 (within 5 %)",
            rps(&c64.via, "req/s"),
            rps(&c64.bare, "req/s"),
            c64.least.as_ref().map(|run| rps(run, "req/s")),
            Some(c64.via.rps >= 0.95 * c16.via.rps),
        );
    }
    if !crowds.is_empty() {
        let bad: BTreeMap<String, usize> = crowds
            .iter()
            .flat_map(|(name, concurrency, run)| {
                run.failures
                    .iter()
                    .filter(|(status, _)| **status != 503)
                    .map(move |(status, n)| (format!("{name} c={concurrency}: {status}"), *n))
            })
            .collect();
        let refused: usize = crowds
            .iter()
            .map(|(_, _, run)| run.failures.get(&503).copied().unwrap_or(0))
            .sum();
        row(
            "c=256 and c=1024, requests and streams: no failure but a deliberate 503",
            if bad.is_empty() {
                format!("no other failure ({refused} × 503)")
            } else {
                format!("{bad:?}")
            },
            none(),
            None,
            Some(bad.is_empty()),
        );
    }
    if let (Some(responses), Some(chat)) =
        (cell("/v1/responses", 1), cell("small chat (forwarded)", 1))
    {
        row(
            "/v1/responses (chain of 10), c=1: added p50 within 2× the forwarded chat's",
            format!(
                "{:.3} ms vs {:.3} ms ({:.1}×)",
                responses.apex().p50(),
                chat.apex().p50(),
                responses.apex().p50() / chat.apex().p50()
            ),
            none(),
            None,
            Some(responses.apex().p50() <= 2.0 * chat.apex().p50()),
        );
    }
    for name in [
        "20-chunk stream (pass-through)",
        "20-chunk stream (OpenAI→Anthropic)",
    ] {
        if let Some(c) = cell(name, 1) {
            row(
                &format!("{name}, c=1: added p99 TTFB ≤ 0.3 ms"),
                ms(c.apex().ttfb_p99()),
                ms(c.bare_proxy().ttfb_p99()),
                c.least_component().map(|l| ms(l.ttfb_p99())),
                Some(c.apex().ttfb_p99() <= 0.3),
            );
        }
    }
    if let Some(c) = cell("20-chunk stream (OpenAI→Anthropic)", 16) {
        row(
            "translated stream, c=16: ≥ 10,000 streams/s",
            rps(&c.via, "streams/s"),
            rps(&c.bare, "streams/s"),
            c.least.as_ref().map(|run| rps(run, "streams/s")),
            Some(c.via.rps >= 10_000.0),
        );
    }
    if let Some(c) = cell("100 KB prompt", 1) {
        row(
            "100 KB prompt forwarded, c=1: added p50 ≤ 0.3 ms",
            ms(c.apex().p50()),
            ms(c.bare_proxy().p50()),
            c.least_component().map(|l| ms(l.p50())),
            Some(c.apex().p50() <= 0.3),
        );
    }
    if let Some(idle) = memory.idle {
        row(
            "idle RSS ≤ 25 MiB",
            format!("{} MiB", mib(Some(idle))),
            none(),
            None,
            Some(idle <= 25 * 1024),
        );
    }
    if memory.at_256 > 0 {
        row(
            "RSS at c=256 ≤ 200 MiB",
            format!("{} MiB", mib(Some(memory.at_256))),
            none(),
            None,
            Some(memory.at_256 <= 200 * 1024),
        );
    }
    if let (Some(recovered), true) = (memory.recovered, memory.warm > 0) {
        row(
            "RSS 12 s after c=256/1024 within 10 % of warm (c=16)",
            format!(
                "{} MiB vs {} MiB",
                mib(Some(recovered)),
                mib(Some(memory.warm))
            ),
            none(),
            None,
            Some(recovered as f64 <= memory.warm as f64 * 1.10),
        );
    }
    let with_least = cells.iter().any(|c| c.least.is_some());
    if with_least {
        println!(
            "| target | this run (Apex) | a bare proxy, same run | the least component on Apex's host, same run | |"
        );
        println!("|---|---|---|---|---|");
    } else {
        println!("| target | this run (Apex) | a bare proxy, same run | |");
        println!("|---|---|---|---|");
    }
    for TargetRow {
        target,
        apex: measured,
        bare,
        least,
        met,
    } in rows
    {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "missed",
            None => "",
        };
        if with_least {
            let least = least.unwrap_or_else(none);
            println!("| {target} | {measured} | {bare} | {least} | {verdict} |");
        } else {
            println!("| {target} | {measured} | {bare} | {verdict} |");
        }
    }
}
