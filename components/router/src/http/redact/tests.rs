use super::*;

#[test]
fn redacts_plain_secrets() {
    assert_eq!(
        redact("bad key sk-abcdef given", &["sk-abcdef"]),
        "bad key [redacted] given"
    );
}

/// `text` decoded as the contents of a JSON string up to `levels` times (fewer when it stops
/// being one).
fn decoded(text: &str, levels: usize) -> String {
    let mut out = text.to_string();
    for _ in 0..levels {
        match serde_json::from_str::<String>(&format!("\"{out}\"")) {
            Ok(next) => out = next,
            Err(_) => break,
        }
    }
    out
}

#[test]
fn sees_through_json_escapes() {
    let secret = "sk-abc/def+ghi";
    let cases = [
        // One character \u-escaped, in lower and upper case hex.
        r"key sk-\u0061bc/def+ghi given",
        r"key sk-abc/d\u0065f+ghi given",
        r"key \u0073k-abc/def+ghi given",
        r"key sk-abc/def+gh\u0069 given",
        r"key sk-abc/def\u002Bghi given",
        // Every character escaped.
        r"key \u0073\u006b\u002d\u0061\u0062\u0063\u002f\u0064\u0065\u0066\u002b\u0067\u0068\u0069 given",
        // The `\/` escape.
        r"key sk-abc\/def+ghi given",
        // A JSON string inside a JSON string (an upstream relaying another's error).
        r"key sk-\\u0061bc\\\/def+ghi given",
    ];
    for text in cases {
        assert_eq!(redact(text, &[secret]), "key [redacted] given", "{text}");
    }
    // Non-ASCII secrets: a \u escape, and a surrogate pair.
    assert_eq!(
        redact(r"x cl\u00e9-1234 y", &["clé-1234"]),
        "x [redacted] y"
    );
    assert_eq!(
        redact(r"x k-\ud83d\ude00-1234 y", &["k-😀-1234"]),
        "x [redacted] y"
    );
    // Escapes that decode to something else, and near misses, stay as they are.
    for text in [
        r"key sk-\u0062bc/def+ghi given",
        r"key sk-abc/def+gh given",
        r"key sk-\u00zzbc/def+ghi given",
        r"key sk-\qabc/def+ghi given",
        "key sk-abc/def+gh\u{e9} given",
    ] {
        assert_eq!(redact(text, &[secret]), text);
    }
}

#[test]
fn redacted_json_stays_json_and_holds_no_secret() {
    let secret = "sk-abcdefgh";
    let bodies = [
        r#"{"error":{"message":"Incorrect API key provided: sk-\u0061bcdefgh."}}"#,
        r#"{"error":{"message":"raw: {\"key\": \"sk-\\u0061bcdefgh\"}"}}"#,
        r#"{"error":{"message":"odd \\\u0073k-abcdefgh and \\sk-abcdefgh"}}"#,
        r#"{"error":{"message":"three deep \\\\\\u0073k-abcdefgh"}}"#,
    ];
    for body in bodies {
        let redacted = redact(body, &[secret]);
        let value: serde_json::Value =
            serde_json::from_str(&redacted).unwrap_or_else(|e| panic!("{redacted}: {e}"));
        let message = value["error"]["message"].as_str().unwrap();
        for levels in 0..3 {
            let text = decoded(&message.replace('"', ""), levels);
            assert!(!text.contains(secret), "{body} -> {redacted}");
        }
        assert!(redacted.contains("[redacted]"), "{body} -> {redacted}");
    }
}

#[test]
fn takes_the_longest_secret_and_ignores_short_ones() {
    assert_eq!(
        redact("a sk-abcd-long b", &["sk-abcd", "sk-abcd-long", "ab"]),
        "a [redacted] b"
    );
    assert_eq!(redact("ab abc", &["ab", "abc"]), "ab abc");
    assert_eq!(redact("", &["sk-abcdef"]), "");
    assert_eq!(redact("trailing \\", &["sk-abcdef"]), "trailing \\");
}

#[test]
fn sees_through_percent_encoding_base64_and_hints() {
    let key = "sk-proj-AbCdEf0123456789wxyz";
    let cases = [
        // Percent-encoding, any mix, either case.
        "u=%73%6B%2dproj-AbCdEf0123456789wxyz&x",
        "u=sk-proj-AbCdEf0123456789wx%79%7a&x",
        // JSON escapes and percent-encoding mixed.
        r"u=\u0073%6b-proj-AbCdEf0123456789wxyz&x",
    ];
    for text in cases {
        assert_eq!(redact(text, &[key]), "u=[redacted]&x", "{text}");
    }
    use base64ct::Encoding;
    for prefix in ["", "a", "ab", "abc", "Authorization: Bearer "] {
        let encoded = base64ct::Base64::encode_string(format!("{prefix}{key}!").as_bytes());
        let redacted = redact(&format!("basic {encoded} end"), &[key]);
        assert!(redacted.contains("[redacted]"), "{prefix}: {redacted}");
        assert!(!survives(&redacted, key), "{prefix}: {redacted}");
    }
    for hint in [
        "sk-proj-****************************wxyz",
        "sk-pr…wxyz",
        r"sk-pr\u2026wxyz",
        "sk-proj-AbC...",
        "...6789wxyz",
        "****wxyz",
    ] {
        assert_eq!(
            redact(&format!("key {hint} end"), &[key]),
            "key [redacted] end",
            "{hint}"
        );
    }
    // Masks and fragments that reveal too little, or belong to no key, stay.
    for text in [
        "key sk-...",
        "ratio 3.5 ... wait ***",
        "base64 c2stcHJvag==",
        "key sk-proj-AbCd wxyz",
        "****wxyq",
    ] {
        assert_eq!(redact(text, &[key]), text);
    }
    // Short secrets get their plain and escaped forms only.
    assert_eq!(redact("sk-a… and sk-a", &["sk-abcdef"]), "sk-a… and sk-a");
}

#[test]
fn keeps_bytes_that_are_not_utf8() {
    let redactor = Redactor::new(&["sk-abcdefgh"]);
    let body = b"\xff\xfe sk-abcdefgh \xc3";
    assert_eq!(&redactor.bytes(body)[..], b"\xff\xfe [redacted] \xc3");
    assert!(matches!(redactor.bytes(b"\xff plain"), Cow::Borrowed(_)));
}

#[test]
fn streams_find_keys_split_across_chunks() {
    let key = "sk-proj-AbCdEf0123456789wxyz";
    let redactor = Redactor::new(&[key]);
    let body =
        "event: error\ndata: {\"message\":\"bad key \\u0073k-proj-AbCdEf0123456789wxyz\"}\n\n\
         data: {\"hint\":\"sk-pr...wxyz\"}\n\ndata: [DONE]\n\n"
            .to_string();
    let whole = redactor.bytes(body.as_bytes()).into_owned();
    assert!(!String::from_utf8_lossy(&whole).contains("AbCd"));
    for cut in 0..body.len() {
        let mut stream = Stream::new(&redactor);
        let mut out = stream.push(&body.as_bytes()[..cut]);
        out.extend(stream.push(&body.as_bytes()[cut..]));
        out.extend(stream.finish());
        assert_eq!(out, whole, "cut at {cut}");
    }
    // Complete lines go out at once.
    let mut stream = Stream::new(&redactor);
    assert_eq!(stream.push(b"data: 1\n\ndata: 2"), b"data: 1\n\n");
    assert_eq!(stream.finish(), b"data: 2");
}

/// SplitMix64: a small deterministic generator for the property test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// `min` to `min + spread - 1` characters from `alphabet`.
    fn from(&mut self, alphabet: &str, min: usize, spread: usize) -> String {
        let len = min + self.below(spread);
        let chars: Vec<char> = alphabet.chars().collect();
        (0..len).map(|_| chars[self.below(chars.len())]).collect()
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A provider-like key.
fn key(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!("sk-{}", rng.from(ALNUM, 20, 30)),
        1 => format!("sk-ant-api03-{}", rng.from(&format!("{ALNUM}-_"), 40, 20)),
        2 => format!("AIza{}", rng.from(&format!("{ALNUM}-_"), 35, 1)),
        3 => rng.from("0123456789abcdef", 32, 33),
        _ => rng.from(&format!("{ALNUM}+/"), 24, 36),
    }
}

fn hex_escape(rng: &mut Rng, c: char) -> String {
    let escaped = format!("\\u{:04x}", c as u32);
    if rng.chance(50) {
        escaped
            .replace('u', "U")
            .to_uppercase()
            .replacen('U', "u", 1)
    } else {
        escaped
    }
}

/// `key` JSON-escaped, each character with probability 1/2.
fn json_mix(rng: &mut Rng, key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '/' if rng.chance(30) => "\\/".to_string(),
            c if rng.chance(50) => hex_escape(rng, c),
            c => c.to_string(),
        })
        .collect()
}

/// One encoding of `key` that must not survive.
fn encoding(rng: &mut Rng, key: &str) -> (String, &'static str) {
    use base64ct::Encoding;
    match rng.below(7) {
        0 => (key.to_string(), "plain"),
        1 => (json_mix(rng, key), "json"),
        // A JSON string inside a JSON string.
        2 => (json_mix(rng, key).replace('\\', "\\\\"), "json in json"),
        3 => {
            let encoded = key
                .chars()
                .map(|c| {
                    if rng.chance(50) {
                        let hex = format!("%{:02x}", c as u32);
                        if rng.chance(50) {
                            hex.to_uppercase()
                        } else {
                            hex
                        }
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            (encoded, "percent")
        }
        4 => {
            // Inside a longer run, at any alignment.
            let before = rng.from(ALNUM, 0, 10);
            let after = rng.from(ALNUM, 0, 10);
            let bytes = format!("{before}{key}{after}");
            let encoded = match rng.below(3) {
                0 => base64ct::Base64::encode_string(bytes.as_bytes()),
                1 => base64ct::Base64Unpadded::encode_string(bytes.as_bytes()),
                _ => base64ct::Base64UrlUnpadded::encode_string(bytes.as_bytes()),
            };
            (encoded, "base64")
        }
        5 => {
            let chars: Vec<char> = key.chars().collect();
            let shown = rng.below(9);
            let tail = if shown >= MIN_HINT_CHARS {
                rng.below(6)
            } else {
                MIN_HINT_CHARS - shown + rng.below(4)
            };
            let mask = match rng.below(5) {
                0 => "*".repeat(1 + rng.below(40)),
                1 => "…".to_string(),
                2 => "...".to_string(),
                3 => "\\u2026".to_string(),
                _ => "****".to_string(),
            };
            let head: String = chars[..shown].iter().collect();
            let tail: String = chars[chars.len() - tail..].iter().collect();
            (format!("{head}{mask}{tail}"), "hint")
        }
        _ => {
            // JSON escapes and percent-encoding in one key.
            let encoded = key
                .chars()
                .map(|c| match rng.below(3) {
                    0 => hex_escape(rng, c),
                    1 => format!("%{:02X}", c as u32),
                    _ => c.to_string(),
                })
                .collect();
            (encoded, "json and percent")
        }
    }
}

/// Ordinary text around a key: words, punctuation, JSON, escapes, masks.
fn filler(rng: &mut Rng) -> String {
    const WORDS: [&str; 16] = [
        "Incorrect",
        "API",
        "key",
        "provided:",
        "\\n",
        "\\\"quoted\\\"",
        "{\"error\":",
        "100%",
        "a*b",
        "wait...",
        "é",
        "😀",
        "\\u00e9",
        "%20",
        "x=1&y=2",
        "dGVzdA==",
    ];
    let mut out = String::new();
    for _ in 0..rng.below(12) {
        out.push_str(WORDS[rng.below(WORDS.len())]);
        out.push(' ');
    }
    out
}

/// Every way the test itself can read `key` back out of `text`: as written, JSON-unescaped once
/// or twice, percent-decoded, or base64-decoded at every alignment of every base64 run.
fn survives(text: &str, key: &str) -> bool {
    fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('\\') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let hex = after
                .strip_prefix(['u', 'U'])
                .and_then(|h| h.get(..4))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32);
            if let Some(c) = hex {
                out.push(c);
                rest = &after[5..];
            } else if let Some(c) = after.chars().next().filter(|c| "/\\\"".contains(*c)) {
                out.push(c);
                rest = &after[1..];
            } else {
                out.push('\\');
                rest = after;
            }
        }
        out + rest
    }
    fn percent(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let hex = (bytes[i] == b'%')
                .then(|| text.get(i + 1..i + 3))
                .flatten()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    let once = unescape(text);
    let readings = [
        text.to_string(),
        once.clone(),
        unescape(&once),
        percent(text),
        percent(&unescape(&once)),
    ];
    if readings.iter().any(|r| r.contains(key)) {
        return true;
    }
    use base64ct::Encoding;
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || "+/-_".contains(c);
    for run in text.split(|c: char| !is_b64(c)) {
        let run = run.replace('-', "+").replace('_', "/");
        for skip in 0..4.min(run.len()) {
            let usable = (run.len() - skip) / 4 * 4;
            let Ok(bytes) = base64ct::Base64::decode_vec(&run[skip..skip + usable]) else {
                continue;
            };
            if bytes.windows(key.len()).any(|w| w == key.as_bytes()) {
                return true;
            }
        }
    }
    false
}

#[test]
fn property_no_encoding_of_a_key_survives_and_other_text_is_untouched() {
    let mut rng = Rng(0x005e_ed0f_a9e8);
    for case in 0..3000 {
        let keys: Vec<String> = (0..1 + rng.below(10)).map(|_| key(&mut rng)).collect();
        let secrets: Vec<&str> = keys.iter().map(String::as_str).collect();
        let redactor = Redactor::new(&secrets);
        let plain = format!("{}{}", filler(&mut rng), filler(&mut rng));
        assert_eq!(redactor.text(&plain), plain, "case {case}: {plain}");
        let key = &keys[rng.below(keys.len())];
        let (encoded, how) = encoding(&mut rng, key);
        let (before, after) = (filler(&mut rng), filler(&mut rng));
        let text = format!("{before}{encoded} {after}");
        let out = redactor.text(&text);
        assert!(
            !out.contains(&encoded) && !survives(&out, key),
            "case {case} ({how}): {key} in {text:?} -> {out:?}"
        );
        assert!(out.starts_with(before.trim_end_matches(['.', '*', '…'])));
        // Streamed in random pieces, the same bytes come out.
        let mut stream = Stream::new(&redactor);
        let bytes = format!("{text}\n{plain}\n");
        let mut streamed = Vec::new();
        let mut rest = bytes.as_bytes();
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(1 + rng.below(rest.len()));
            streamed.extend(stream.push(piece));
            rest = tail;
        }
        streamed.extend(stream.finish());
        assert_eq!(streamed, redactor.bytes(bytes.as_bytes()).into_owned());
    }
}

#[test]
fn a_kept_redactor_serves_exactly_its_own_secrets() {
    let first = kept(&["sk-first-key-0123456789"]);
    assert!(Rc::ptr_eq(&first, &kept(&["sk-first-key-0123456789"])));
    assert_eq!(first.text("a sk-first-key-0123456789 b"), "a [redacted] b");
    // One more secret (a run-time credential), or another: built anew, each redacting its own.
    let with_token = kept(&["sk-first-key-0123456789", "ya29.token-abcdefghij"]);
    assert!(!Rc::ptr_eq(&first, &with_token));
    assert_eq!(with_token.text("ya29.token-abcdefghij"), "[redacted]");
    assert_eq!(first.text("ya29.token-abcdefghij"), "ya29.token-abcdefghij");
    let other = kept(&["sk-other-key-9876543210"]);
    assert_eq!(other.text("sk-other-key-9876543210"), "[redacted]");
    assert_eq!(
        first.text("sk-other-key-9876543210"),
        "sk-other-key-9876543210"
    );
    // More secret sets than are kept: the oldest is built again, and still right.
    for n in 0..=KEPT_REDACTORS {
        let token = format!("token-number-{n:04}");
        let _ = kept(&["sk-first-key-0123456789", &token]);
    }
    let again = kept(&["sk-first-key-0123456789"]);
    assert!(!Rc::ptr_eq(&first, &again));
    assert_eq!(again.text("sk-first-key-0123456789"), "[redacted]");
}
