//! The long fuzz run:
//!
//! ```text
//! cargo run --release -p apex-fuzz -- [--execs N] [--target NAME[,NAME...]] [--seed N]
//!     [--max-len BYTES] [--timeout SECS] [--crash-dir DIR] [--trace] [--quiet]
//! cargo run --release -p apex-fuzz -- --list
//! cargo run --release -p apex-fuzz -- --target NAME --reproduce FILE
//! ```
//!
//! Targets run one after another; each prints its executions, crashes, accepted share, execs/s,
//! largest peak allocation and slowest execution. The exit status is 1 when anything crashed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use apex_fuzz::runner::{self, Options, Verdict};
use apex_fuzz::targets::{self, Target};

struct Args {
    options: Options,
    targets: Vec<String>,
    list: bool,
    reproduce: Option<PathBuf>,
    quiet: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        options: Options::new(100_000),
        targets: Vec::new(),
        list: false,
        reproduce: None,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let number = |text: String, name: &str| {
            text.replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{name}: {e}"))
        };
        match arg.as_str() {
            "--execs" => args.options.execs = number(value("--execs")?, "--execs")?,
            "--seed" => args.options.seed = number(value("--seed")?, "--seed")?,
            "--max-len" => {
                args.options.max_len = number(value("--max-len")?, "--max-len")? as usize
            }
            "--timeout" => {
                args.options.timeout =
                    Duration::from_secs(number(value("--timeout")?, "--timeout")?)
            }
            "--crash-dir" => args.options.crash_dir = PathBuf::from(value("--crash-dir")?),
            "--target" => args.targets.extend(
                value("--target")?
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            ),
            "--reproduce" => args.reproduce = Some(PathBuf::from(value("--reproduce")?)),
            "--trace" => args.options.trace = true,
            "--list" => args.list = true,
            "--quiet" => args.quiet = true,
            "--help" | "-h" => {
                return Err(
                    "usage: apex-fuzz [--execs N] [--target NAME[,NAME]] [--seed N] [--max-len BYTES] \
                     [--timeout SECS] [--crash-dir DIR] [--trace] [--quiet] | --list | \
                     --target NAME --reproduce FILE"
                        .to_string(),
                );
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    args.options.verbose = !args.quiet;
    Ok(args)
}

fn selected(names: &[String]) -> Result<Vec<Target>, String> {
    if names.is_empty() {
        return Ok(targets::all());
    }
    names
        .iter()
        .map(|name| targets::find(name).ok_or(format!("no target `{name}` (try --list)")))
        .collect()
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn reproduce(targets: &[Target], file: &PathBuf) -> Result<ExitCode, String> {
    let [target] = targets else {
        return Err("--reproduce needs exactly one --target".to_string());
    };
    let input = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let (verdict, peak, took) = runner::execute(target, &input);
    println!(
        "{}: {} bytes in {:?}, peak allocation {} (bound {})",
        target.name,
        input.len(),
        took,
        mib(peak),
        mib(runner::allocation_bound(input.len()))
    );
    match verdict {
        Verdict::Crash(reason) => {
            println!("CRASH: {reason}");
            Ok(ExitCode::FAILURE)
        }
        verdict => {
            println!("ok: {verdict:?}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| {
        if args.list {
            for target in targets::all() {
                println!("{:<24} {}", target.name, target.about);
            }
            return Ok(ExitCode::SUCCESS);
        }
        let targets = selected(&args.targets)?;
        if let Some(file) = &args.reproduce {
            return reproduce(&targets, file);
        }
        println!(
            "apex-fuzz: {} target(s), {} executions each, seed {}, inputs up to {} bytes, crashes in {}",
            targets.len(),
            args.options.execs,
            args.options.seed,
            args.options.max_len,
            args.options.crash_dir.display()
        );
        println!(
            "{:<24} {:>10} {:>8} {:>9} {:>10} {:>10} {:>10}",
            "target", "execs", "crashes", "accepted", "execs/s", "max-peak", "slowest"
        );
        let mut failed = false;
        for target in &targets {
            let report = runner::run(target, &args.options);
            println!(
                "{:<24} {:>10} {:>8} {:>8.1}% {:>10.0} {:>10} {:>8.1}ms",
                report.target,
                report.execs,
                report.crashes,
                100.0 * report.accepted as f64 / report.execs.max(1) as f64,
                report.execs_per_sec(),
                mib(report.max_peak),
                report.slowest.as_secs_f64() * 1000.0
            );
            if report.crashes > 0 {
                failed = true;
                print!("{}", report.describe());
            }
        }
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    });
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}
