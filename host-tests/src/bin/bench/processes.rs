//! The processes under test: the fake provider and Apex, started, pinned and measured.

use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

pub fn sibling(name: &str) -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.parent().context("binary dir")?.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build with `cargo build --release -p apex-host --bins`",
            path.display()
        );
    }
    Ok(path)
}

pub fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn spawn(
    program: &std::path::Path,
    args: &[&str],
    cpus: Option<&str>,
    env: &[(&str, String)],
) -> Result<(Child, String)> {
    start(program, args, cpus, env, Stdio::inherit())
}

/// [`spawn`], with the process's stderr (Apex's request log) appended to `log`.
pub fn spawn_logged(
    program: &std::path::Path,
    args: &[&str],
    cpus: Option<&str>,
    env: &[(&str, String)],
    log: &std::fs::File,
) -> Result<(Child, String)> {
    start(program, args, cpus, env, Stdio::from(log.try_clone()?))
}

fn start(
    program: &std::path::Path,
    args: &[&str],
    cpus: Option<&str>,
    env: &[(&str, String)],
    stderr: Stdio,
) -> Result<(Child, String)> {
    let mut command = match cpus {
        Some(cpus) if has_taskset() => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus]).arg(program);
            c
        }
        _ => Command::new(program),
    };
    command.args(args).stdout(Stdio::piped()).stderr(stderr);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut reader = std::io::BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if std::io::BufRead::read_line(&mut reader, &mut line)? == 0 {
            bail!("{} exited before listening", program.display());
        }
        if let Some(at) = line.find("listening on ") {
            let address = line[at + 13..]
                .trim()
                .trim_start_matches("http://")
                .to_string();
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return Ok((child, address));
        }
    }
}

pub fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time the process has used so far (user and system), in microseconds.
pub fn cpu_us(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, so split after its `)`): state is
    // field 3, utime and stime are fields 14 and 15.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the C library; no memory is touched.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (user + system) as f64 * 1e6 / ticks as f64)
}

pub fn cpus() -> (Option<&'static str>, Option<&'static str>) {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if n >= 2 {
        (Some("0"), Some("1-"))
    } else {
        (None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_of_a_process_is_read_and_grows_while_it_works() {
        let pid = std::process::id();
        let before = cpu_us(pid).expect("this process's CPU time");
        // Spin until two clock ticks (10 ms each) of CPU time show, at most 5 s on a busy machine.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        let mut after = before;
        while after - before < 20_000.0 && started.elapsed() < std::time::Duration::from_secs(5) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            after = cpu_us(pid).expect("this process's CPU time");
        }
        assert!(
            after - before >= 20_000.0,
            "{before} → {after} µs in 5 s of spinning"
        );
        assert!(cpu_us(u32::MAX).is_none(), "no such process");
    }
}
