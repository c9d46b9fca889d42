#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The `apex` binary as a process: state it answered from survives SIGTERM, a second process
//! cannot take a data folder that is in use, and clients that stall cannot hold connections.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Apex {
    child: Child,
    address: String,
}

impl Drop for Apex {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `apex` with the echo model only (open gateway) on a free loopback port.
fn start(data_dir: &Path) -> Apex {
    start_with(data_dir, &[])
}

fn start_with(data_dir: &Path, flags: &[&str]) -> Apex {
    start_command(Command::new(env!("CARGO_BIN_EXE_apex")), data_dir, flags)
}

/// Starts `apex` through `command` (the binary itself, or a shell that execs it).
fn start_command(mut command: Command, data_dir: &Path, flags: &[&str]) -> Apex {
    let mut child = command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(flags)
        .env_remove("APEX_CONFIG")
        .env_remove("APEX_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().expect("apex exited before listening").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_string();
        }
    };
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Apex { child, address }
}

/// One HTTP/1.1 exchange: (status, body).
fn http(address: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {reply:?}"));
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("local-host-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn wait_for_exit(apex: &mut Apex) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = apex.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "apex did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn responses_answered_before_sigterm_survive_it() {
    let data = temp_dir("sigterm");
    let mut apex = start(&data);
    let mut ids = Vec::new();
    for n in 0..5 {
        let (status, body) = http(
            &apex.address,
            "POST",
            "/v1/responses",
            &format!(r#"{{"model":"echo","input":"number {n}"}}"#),
        );
        assert_eq!(status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    // At once: well inside the background flusher's interval.
    let killed = Command::new("kill")
        .args(["-TERM", &apex.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_for_exit(&mut apex);
    assert!(status.success(), "a clean exit on SIGTERM, got {status}");

    let apex = start(&data);
    for id in &ids {
        let (status, body) = http(&apex.address, "GET", &format!("/v1/responses/{id}"), "");
        assert_eq!(status, 200, "{id} was lost: {body}");
    }
}

#[test]
fn a_second_apex_refuses_a_data_folder_in_use() {
    let data = temp_dir("lock");
    let _first = start(&data);
    let mut second = Command::new(env!("CARGO_BIN_EXE_apex"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second apex kept running on a data folder in use");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "the second process must not run");
    let mut stderr = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("in use by another apex"), "{stderr}");
}

/// What a stalled client gets within `within`: `Some(bytes)` once the server answered or closed
/// the connection, `None` if it was still waiting.
fn outcome_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(received),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (!received.is_empty()).then_some(received);
            }
            Err(_) => return Some(received),
        }
    }
}

#[test]
fn unfinished_headers_and_stalled_bodies_are_cut_off() {
    let data = temp_dir("stall");
    let apex = start_with(&data, &["--header-timeout", "1", "--body-timeout", "1"]);
    // Headers that never end.
    let mut slow_headers = TcpStream::connect(&apex.address).unwrap();
    slow_headers
        .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: app")
        .unwrap();
    // A body that stops after 10 of 100 bytes.
    let mut slow_body = TcpStream::connect(&apex.address).unwrap();
    slow_body
        .write_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"model\":",
        )
        .unwrap();
    let started = Instant::now();
    let headers = outcome_within(&mut slow_headers, Duration::from_secs(8));
    assert!(
        headers.is_some(),
        "a client that never finishes its headers is dropped"
    );
    let body = outcome_within(&mut slow_body, Duration::from_secs(8));
    let body = body.expect("a client that stops sending its body is answered or dropped");
    let text = String::from_utf8_lossy(&body);
    assert!(!text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(8));
    // Everyone else is still served.
    let (status, _) = http(&apex.address, "GET", "/health", "");
    assert_eq!(status, 200);
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let data = temp_dir("cap");
    let apex = start_with(&data, &["--max-connections", "2", "--header-timeout", "60"]);
    let first = TcpStream::connect(&apex.address).unwrap();
    let _second = TcpStream::connect(&apex.address).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut third = TcpStream::connect(&apex.address).unwrap();
    write!(
        third,
        "GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    assert_eq!(
        outcome_within(&mut third, Duration::from_millis(1500)),
        None,
        "the third connection waits while two are open"
    );
    drop(first);
    let answer =
        outcome_within(&mut third, Duration::from_secs(20)).expect("served once a slot frees");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

/// One keep-alive exchange on `stream`: the response head (lowercased) once its body is read.
fn exchange(stream: &mut TcpStream) -> String {
    write!(stream, "GET /health HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed before answering");
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received).to_lowercase();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .expect("a content-length");
            if body.len() >= length {
                return head.to_string();
            }
        }
    }
}

#[test]
fn at_the_connection_cap_kept_alive_connections_make_room() {
    let data = temp_dir("cap-close");
    let apex = start_with(&data, &["--max-connections", "2", "--header-timeout", "60"]);
    let mut first = TcpStream::connect(&apex.address).unwrap();
    let head = exchange(&mut first);
    assert!(!head.contains("connection: close"), "{head}");
    // Both slots taken (the second client is connected, between requests); a third waits in the
    // backlog.
    let mut second = TcpStream::connect(&apex.address).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut third = send_health(&apex.address);
    assert_eq!(
        outcome_within(&mut third, Duration::from_millis(500)),
        None,
        "the third waits while two are open"
    );
    // The next answer on a kept-alive connection closes it, making room for the third.
    let head = exchange(&mut first);
    assert!(head.contains("connection: close"), "{head}");
    let answer = outcome_within(&mut third, Duration::from_secs(5))
        .expect("served once the kept-alive connection closed, not after the header timeout");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // Below the cap again (the third asked to close): connections are kept alive.
    drop((first, third));
    std::thread::sleep(Duration::from_millis(300));
    let head = exchange(&mut second);
    assert!(!head.contains("connection: close"), "{head}");
}

/// A request that holds an instance: its body stops after 10 of 100 bytes.
fn stalled_request(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .write_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"model\":",
        )
        .unwrap();
    stream
}

fn send_health(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    stream
}

#[test]
fn requests_past_the_instance_limit_wait_for_one_then_get_a_503() {
    let data = temp_dir("instances");
    let apex = start_with(
        &data,
        &[
            "--max-instances",
            "3",
            "--instance-wait",
            "1",
            "--body-timeout",
            "60",
        ],
    );
    // Three requests hold the three instances the pool is sized for: none is refused (a pool
    // sized below the composed app's needs would fail one at once).
    let mut held: Vec<TcpStream> = (0..3).map(|_| stalled_request(&apex.address)).collect();
    for stream in &mut held {
        assert_eq!(outcome_within(stream, Duration::from_millis(300)), None);
    }
    // A fourth waits for an instance, and is served once one is free.
    let mut waiting = send_health(&apex.address);
    assert_eq!(
        outcome_within(&mut waiting, Duration::from_millis(300)),
        None,
        "the fourth request waits while three run"
    );
    drop(held.remove(0));
    let answer = outcome_within(&mut waiting, Duration::from_secs(20)).expect("served");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // All three busy again: past the wait, a 503 with Retry-After in OpenAI's error shape.
    held.push(stalled_request(&apex.address));
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let mut refused = send_health(&apex.address);
    let answer = outcome_within(&mut refused, Duration::from_secs(20)).expect("answered");
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 503"), "{text}");
    assert!(text.contains("\r\nretry-after: 1\r\n"), "{text}");
    assert!(text.contains(r#""code":"gateway_busy""#), "{text}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "it waited first"
    );
    drop(held);
}

/// A machine whose soft open-files limit is low (1024 is common; 64 here) must not stop the
/// gateway under many connections: Apex raises the limit to the hard one at start, and a failed
/// accept is retried instead of ending the server.
#[cfg(target_os = "linux")]
#[test]
fn many_connections_under_a_low_open_files_limit_are_served() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads this process's limit into the struct.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    if limit.rlim_max < 1024 {
        eprintln!("skipped: the hard open-files limit is {}", limit.rlim_max);
        return;
    }
    let data = temp_dir("nofile");
    let mut shell = Command::new("sh");
    shell
        .args(["-c", "ulimit -Sn 64 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_apex"));
    let apex = start_command(shell, &data, &["--header-timeout", "60"]);
    // 150 open connections, each with a request's headers begun: more than 64 descriptors.
    let held: Vec<TcpStream> = (0..150)
        .map(|_| {
            let mut stream = TcpStream::connect(&apex.address).unwrap();
            stream
                .write_all(b"GET /health HTTP/1.1\r\nhost: loc")
                .unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut health = send_health(&apex.address);
    let answer = outcome_within(&mut health, Duration::from_secs(20)).expect("answered");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    drop(held);
}
