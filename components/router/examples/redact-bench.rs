//! What redaction costs: error bodies of 1 KiB and 64 KiB and a 64 KiB event stream, with ten
//! configured keys, against a copy of the same bytes (what delivery costs without redaction).
//!
//! ```text
//! cargo run --release -p apex-router --example redact-bench
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use apex_router::http::redact::{Redactor, Stream};

/// Runs `f` for about half a second; nanoseconds per call.
fn time(mut f: impl FnMut()) -> f64 {
    let budget = Duration::from_millis(500);
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < budget {
        for _ in 0..16 {
            f();
        }
        runs += 16;
    }
    start.elapsed().as_nanos() as f64 / runs as f64
}

/// A provider-like error body of about `size` bytes: JSON, escapes, no key.
fn error_body(size: usize) -> Vec<u8> {
    let mut message = String::new();
    let words = [
        "Invalid",
        "'messages[0].content':",
        "expected",
        "a",
        "string,",
        "got",
        "an",
        "object.",
        "See",
        "https://platform.openai.com/docs/api-reference/chat",
        "for",
        "details.",
        "\\n",
        "\\\"role\\\":",
        "\\\"user\\\"",
        "100%",
        "é",
    ];
    let mut i = 0;
    while message.len() + 120 < size {
        message.push_str(words[i % words.len()]);
        message.push(' ');
        i += 7;
    }
    format!(
        r#"{{"error":{{"message":"{message}","type":"invalid_request_error","param":"messages","code":null}}}}"#
    )
    .into_bytes()
}

/// A forwarded chat stream of about `size` bytes.
fn stream_body(size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = 0;
    while out.len() < size {
        out.extend_from_slice(format!(
            "data: {{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4.1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {n} of the answer \"}},\"finish_reason\":null}}]}}\n\n"
        ).as_bytes());
        n += 1;
    }
    out
}

fn main() {
    let keys: Vec<String> = (0..10)
        .map(|i| match i % 3 {
            0 => format!("sk-proj-{i}Ab3dEf0123456789ghIJklMNopQRstUVwxYZ{i}"),
            1 => format!("sk-ant-api03-{i}Zy98XwVu76TsRq54PoNm32LkJi10HgFe"),
            _ => format!("AIzaSy{i}Bc4De5Fg6Hi7Jk8Lm9No0Pq1Rs2Tu3Vw"),
        })
        .collect();
    let secrets: Vec<&str> = keys.iter().map(String::as_str).collect();
    let built = time(|| {
        black_box(Redactor::new(black_box(&secrets)));
    });
    let redactor = Redactor::new(&secrets);
    println!("ten keys; Redactor::new: {:.1} µs", built / 1000.0);
    println!(
        "{:<44} {:>12} {:>12} {:>10}",
        "input", "copy (ns)", "redact (ns)", "redact MB/s"
    );
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for size in [1024, 64 * 1024] {
        let body = error_body(size);
        cases.push((
            format!("error body {} KiB, no key", size / 1024),
            body.clone(),
        ));
        let text = String::from_utf8_lossy(&body).replacen(
            "expected",
            &format!("key \\u0073{} expected", &keys[4][1..]),
            1,
        );
        cases.push((
            format!("error body {} KiB, one escaped key", size / 1024),
            text.into_bytes(),
        ));
    }
    for (name, body) in &cases {
        let copy = time(|| {
            black_box(black_box(body.as_slice()).to_vec());
        });
        let redact = time(|| {
            black_box(redactor.bytes(black_box(body)).into_owned());
        });
        let rate = body.len() as f64 / redact * 1000.0;
        println!("{name:<44} {copy:>12.0} {redact:>12.0} {rate:>10.0}");
    }
    let stream = stream_body(64 * 1024);
    let copy = time(|| {
        for chunk in black_box(&stream).chunks(1024) {
            black_box(chunk.to_vec());
        }
    });
    let redact = time(|| {
        let mut redacting = Stream::new(&redactor);
        for chunk in black_box(&stream).chunks(1024) {
            black_box(redacting.push(chunk));
        }
        black_box(redacting.finish());
    });
    let rate = stream.len() as f64 / redact * 1000.0;
    println!(
        "{:<44} {copy:>12.0} {redact:>12.0} {rate:>10.0}",
        "stream 64 KiB in 1 KiB chunks, no key"
    );
}
