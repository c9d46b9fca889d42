//! The structure-aware mutator: byte-level edits (flips, inserts, deletes, repeats, splices with
//! other seeds, dictionary tokens, invalid UTF-8) and JSON-aware edits on whatever part of the
//! input is JSON (the whole input, an HTTP-style body after a blank line, or one line of an SSE or
//! NDJSON stream): values swapped for other JSON types, subtrees copied or grafted from other
//! seeds, deep nesting, huge numbers, long strings, keys added and removed. Every choice comes from
//! the [`Rng`], so a run is reproducible from its seed.

use serde_json::{Map, Number, Value};

use crate::rng::Rng;

/// Tokens worth inserting into any input: JSON syntax and edge values, SSE and HTTP framing, and
/// byte sequences that are not UTF-8.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"false",
    b"0",
    b"-0",
    b"-1",
    b"1e999",
    b"-1e999",
    b"1e-400",
    b"0.1e1",
    b"4294967295",
    b"4294967296",
    b"9223372036854775807",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"123456789012345678901234567890",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\"\\udfff\\ud800\"",
    b"\\u",
    b"\\",
    b"\"\"",
    b"{}",
    b"[]",
    b"{\"\":{}}",
    b"[[[[[[[[[[[[[[[[",
    b"]]]]]]]]]]]]]]]]",
    b"{\"a\":{\"a\":{\"a\":{\"a\":",
    b"data: ",
    b"data:",
    b"event: ",
    b"event: error\n",
    b"id: 1\n",
    b"retry: 1\n",
    b": keepalive\n\n",
    b"data: [DONE]\n\n",
    b"data: {}\n\n",
    b"\n\n",
    b"\n",
    b"\r\n",
    b"\r",
    b"\r\n\r\n",
    b"\t",
    b" ",
    b"retry-after: ",
    b"retry-after: 1.5\n",
    b"retry-after: Wed, 21 Oct 2015 07:28:00 GMT\n",
    b"content-type: text/html\n",
    b"content-type: application/json\n",
    b"x-ratelimit-reset-requests: 1m30.5s\n",
    b"Bearer ",
    b"%",
    b"%2e%2e",
    b"%2F",
    b"%zz",
    b"../",
    b"?",
    b"&",
    b"=",
    b"*",
    b":latest",
    b"/",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"\xf0\x9f\x98\x80",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xef\xbb\xbf",
    b"\x00",
];

/// Whole lines for line-framed inputs (streams, header blocks).
const LINES: &[&[u8]] = &[
    b"",
    b"data: [DONE]",
    b"data: {}",
    b"data: null",
    b"data: []",
    b"data: \"text\"",
    b"data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}",
    b"data: {\"error\":{\"message\":\"x\",\"code\":500}}",
    b"event: error",
    b"event: ping",
    b"event: message_stop",
    b": comment",
    b"{}",
    b"{\"done\":true}",
    b"{\"error\":\"boom\"}",
    b"null",
    b"retry-after: 30",
    b"retry-after: -1",
    b"retry-after: 99999999999999999999",
];

/// Keys and short strings that occur in the seeds: the field names the parsers look for.
fn harvest(value: &Value, dict: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                dict.push(key.clone());
                harvest(item, dict);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| harvest(item, dict)),
        Value::String(text) if text.len() <= 40 => dict.push(text.clone()),
        _ => {}
    }
}

/// Byte ranges of `data` that may hold JSON: the whole input, the body after the first blank line
/// (an HTTP-style input), and every line (after an SSE `data:` prefix).
fn json_regions(data: &[u8]) -> Vec<(usize, usize)> {
    let mut regions = vec![(0, data.len())];
    if let Some(at) = find(data, b"\n\n") {
        regions.push((at + 2, data.len()));
    }
    if let Some(at) = find(data, b"\r\n\r\n") {
        regions.push((at + 4, data.len()));
    }
    let mut start = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' || b == b'\r' {
            push_line(data, start, i, &mut regions);
            start = i + 1;
        }
    }
    push_line(data, start, data.len(), &mut regions);
    regions
}

fn push_line(data: &[u8], start: usize, end: usize, regions: &mut Vec<(usize, usize)>) {
    let line = &data[start..end];
    let skip = if line.starts_with(b"data: ") {
        6
    } else if line.starts_with(b"data:") {
        5
    } else {
        0
    };
    if end > start + skip && matches!(line.get(skip), Some(b'{' | b'[' | b'"')) {
        regions.push((start + skip, end));
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Mutates inputs of one target.
pub struct Mutator {
    seeds: Vec<Vec<u8>>,
    /// JSON values found in the seeds: donors of subtrees.
    donors: Vec<Value>,
    /// Field names and short strings from the seeds.
    dict: Vec<String>,
    pub max_len: usize,
}

impl Mutator {
    pub fn new(seeds: &[Vec<u8>], max_len: usize) -> Self {
        let mut donors = Vec::new();
        for seed in seeds {
            for (start, end) in json_regions(seed) {
                if let Ok(value) = serde_json::from_slice::<Value>(&seed[start..end])
                    && (value.is_object() || value.is_array())
                {
                    donors.push(value);
                    break;
                }
            }
        }
        let mut dict = Vec::new();
        for donor in &donors {
            harvest(donor, &mut dict);
        }
        dict.sort();
        dict.dedup();
        Self {
            seeds: seeds.to_vec(),
            donors,
            dict,
            max_len,
        }
    }

    /// One to a few stacked mutations of `data`, kept under `max_len`.
    pub fn mutate(&self, rng: &mut Rng, data: &mut Vec<u8>) {
        let most = rng.range(1, 6);
        let rounds = 1 + rng.below(most);
        for _ in 0..rounds {
            self.once(rng, data);
            if data.len() > self.max_len {
                data.truncate(self.max_len);
            }
        }
    }

    fn once(&self, rng: &mut Rng, data: &mut Vec<u8>) {
        match rng.below(20) {
            0..=6 => {
                if !self.json(rng, data) {
                    self.bytes(rng, data);
                }
            }
            7..=8 => self.lines(rng, data),
            9 => self.splice(rng, data),
            10 => self.number_text(rng, data),
            _ => self.bytes(rng, data),
        }
    }

    fn token(&self, rng: &mut Rng) -> Vec<u8> {
        if !self.dict.is_empty() && rng.one_in(3) {
            let word = &self.dict[rng.below(self.dict.len())];
            if rng.one_in(2) {
                return format!("\"{word}\"").into_bytes();
            }
            return word.clone().into_bytes();
        }
        TOKENS[rng.below(TOKENS.len())].to_vec()
    }

    fn bytes(&self, rng: &mut Rng, data: &mut Vec<u8>) {
        let len = data.len();
        match rng.below(11) {
            // Flip a bit.
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            // Set a byte to an interesting value.
            1 if len > 0 => {
                const BYTES: &[u8] = b"\x00\xff\x7f\x80\"\\{}[]:,\n\r 0-.e\xc3\xed";
                let at = rng.below(len);
                data[at] = BYTES[rng.below(BYTES.len())];
            }
            // Insert random bytes.
            2 => {
                let at = rng.below(len + 1);
                let count = rng.small(16);
                let bytes: Vec<u8> = (0..count).map(|_| rng.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            // Delete a range.
            3 if len > 0 => {
                let at = rng.below(len);
                let count = rng.small(len - at);
                data.drain(at..at + count);
            }
            // Repeat a range in place (long runs, duplicated fields).
            4 if len > 0 => {
                let at = rng.below(len);
                let count = rng.small((len - at).min(256));
                let piece = data[at..at + count].to_vec();
                let times = rng.small(64);
                let mut insert = Vec::with_capacity(piece.len() * times);
                for _ in 0..times {
                    insert.extend_from_slice(&piece);
                }
                data.splice(at..at, insert);
            }
            // Copy a range somewhere else.
            5 if len > 0 => {
                let from = rng.below(len);
                let count = rng.small(len - from);
                let piece = data[from..from + count].to_vec();
                let to = rng.below(len + 1);
                data.splice(to..to, piece);
            }
            // Overwrite with a token.
            6 if len > 0 => {
                let token = self.token(rng);
                let at = rng.below(len);
                let end = (at + token.len()).min(len);
                data.splice(at..end, token);
            }
            // Truncate.
            7 if len > 0 => data.truncate(rng.below(len)),
            // Swap two ranges' bytes.
            8 if len > 1 => {
                let a = rng.below(len);
                let b = rng.below(len);
                data.swap(a, b);
            }
            // Insert a token (the most common edit).
            _ => {
                let token = self.token(rng);
                let at = rng.below(len + 1);
                data.splice(at..at, token);
            }
        }
    }

    /// Cross over with another seed: a prefix of `data` and a suffix of the other, or a piece of
    /// the other inserted.
    fn splice(&self, rng: &mut Rng, data: &mut Vec<u8>) {
        let Some(other) = rng.pick(&self.seeds) else {
            return;
        };
        if other.is_empty() {
            return;
        }
        let from = rng.below(other.len());
        if rng.one_in(2) {
            data.truncate(rng.below(data.len() + 1));
            data.extend_from_slice(&other[from..]);
        } else {
            let count = rng.small(other.len() - from);
            let at = rng.below(data.len() + 1);
            data.splice(at..at, other[from..from + count].iter().copied());
        }
    }

    /// Replace a run of digits with an edge-case number.
    fn number_text(&self, rng: &mut Rng, data: &mut Vec<u8>) {
        const NUMBERS: &[&str] = &[
            "0",
            "-0",
            "-1",
            "1.5",
            "1e999",
            "-1e999",
            "1e-999",
            "4294967296",
            "-2147483649",
            "18446744073709551615",
            "18446744073709551616",
            "9223372036854775808",
            "-9223372036854775809",
            "340282366920938463463374607431768211456",
            "0.000000000000000000000000000001",
            "1E+2",
            "00",
            "-",
            "1.",
            ".5",
            "NaN",
            "Infinity",
        ];
        let starts: Vec<usize> = data
            .iter()
            .enumerate()
            .filter(|(i, b)| b.is_ascii_digit() && (*i == 0 || !data[i - 1].is_ascii_digit()))
            .map(|(i, _)| i)
            .collect();
        let Some(&at) = rng.pick(&starts) else {
            return self.bytes(rng, data);
        };
        let end = data[at..]
            .iter()
            .position(|b| !(b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')))
            .map_or(data.len(), |n| at + n);
        let number = NUMBERS[rng.below(NUMBERS.len())];
        data.splice(at..end, number.bytes());
    }

    /// Line-level edits: duplicate, drop, swap or insert lines; change the line ends.
    fn lines(&self, rng: &mut Rng, data: &mut Vec<u8>) {
        let mut lines: Vec<Vec<u8>> = data.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        let n = lines.len();
        match rng.below(7) {
            0 => {
                let at = rng.below(n);
                let line = lines[at].clone();
                lines.insert(at, line);
            }
            1 if n > 1 => {
                lines.remove(rng.below(n));
            }
            2 if n > 1 => {
                let (a, b) = (rng.below(n), rng.below(n));
                lines.swap(a, b);
            }
            3 => {
                let mut out = Vec::with_capacity(data.len() * 2);
                let end: &[u8] = if rng.one_in(2) { b"\r\n" } else { b"\r" };
                for (i, line) in lines.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(end);
                    }
                    out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
                }
                *data = out;
                return;
            }
            4 if n > 1 => {
                // Cut the stream at a line: a body that ends early.
                lines.truncate(rng.range(1, n - 1));
            }
            _ => {
                let line = LINES[rng.below(LINES.len())].to_vec();
                lines.insert(rng.below(n + 1), line);
            }
        }
        *data = lines.join(&b'\n');
    }

    /// A JSON-aware edit of one JSON region of `data`; `false` when no region parses.
    fn json(&self, rng: &mut Rng, data: &mut Vec<u8>) -> bool {
        let mut regions = json_regions(data);
        // Try a few regions, starting at a random one.
        let tries = regions.len().min(4);
        for _ in 0..tries {
            let pick = rng.below(regions.len());
            let (start, end) = regions.swap_remove(pick);
            let Ok(mut value) = serde_json::from_slice::<Value>(&data[start..end]) else {
                continue;
            };
            self.edit(rng, &mut value);
            let text = if rng.one_in(8) {
                serde_json::to_vec_pretty(&value)
            } else {
                serde_json::to_vec(&value)
            };
            let Ok(mut text) = text else {
                continue;
            };
            // A pretty-printed value inside a line-framed stream would break its framing; only
            // the whole input may span lines.
            if (start, end) != (0, data.len()) && text.contains(&b'\n') {
                text.retain(|&b| b != b'\n');
            }
            data.splice(start..end, text);
            return true;
        }
        false
    }

    fn edit(&self, rng: &mut Rng, value: &mut Value) {
        let count = count_nodes(value);
        let mut k = rng.below(count);
        // Copy a node of the same document first (the borrow of the target comes after).
        let copy = {
            let mut j = rng.below(count);
            nth(value, &mut j).cloned()
        };
        let Some(node) = nth_mut(value, &mut k) else {
            return;
        };
        match rng.below(14) {
            0 | 1 => *node = self.scalar(rng),
            2 => *node = self.donor(rng).unwrap_or(Value::Null),
            3 => {
                if let Some(copy) = copy {
                    *node = copy;
                }
            }
            4 => {
                let inner = node.take();
                *node = Value::Array(vec![inner]);
            }
            5 => {
                // Nesting past the parsers' depth limits (serde_json stops at 128).
                let depth = rng.range(20, 300);
                let mut inner = node.take();
                for i in 0..depth {
                    inner = if i % 2 == 0 {
                        Value::Array(vec![inner])
                    } else {
                        let mut map = Map::new();
                        map.insert(self.key(rng), inner);
                        Value::Object(map)
                    };
                }
                *node = inner;
            }
            6 => *node = Value::String(self.long_string(rng)),
            7 => *node = Value::Array(Vec::new()),
            8 => *node = Value::Object(Map::new()),
            _ => match node {
                Value::Object(map) => {
                    let keys: Vec<String> = map.keys().cloned().collect();
                    match rng.below(4) {
                        0 if !keys.is_empty() => {
                            map.remove(&keys[rng.below(keys.len())]);
                        }
                        1 if !keys.is_empty() => {
                            let key = &keys[rng.below(keys.len())];
                            if let Some(item) = map.remove(key) {
                                map.insert(self.key(rng), item);
                            }
                        }
                        2 => {
                            let item = copy.unwrap_or_else(|| self.scalar(rng));
                            map.insert(self.key(rng), item);
                        }
                        _ => {
                            let item = self.donor(rng).unwrap_or_else(|| self.scalar(rng));
                            map.insert(self.key(rng), item);
                        }
                    }
                }
                Value::Array(items) => match rng.below(4) {
                    0 if !items.is_empty() => {
                        items.remove(rng.below(items.len()));
                    }
                    1 if !items.is_empty() => {
                        let item = items[rng.below(items.len())].clone();
                        for _ in 0..rng.small(64) {
                            items.push(item.clone());
                        }
                    }
                    2 if items.len() > 1 => items.reverse(),
                    _ => {
                        let item = copy.unwrap_or_else(|| self.scalar(rng));
                        let at = rng.below(items.len() + 1);
                        items.insert(at, item);
                    }
                },
                Value::String(text) => match rng.below(4) {
                    0 => text.push_str(&self.long_string(rng)),
                    1 => *text = self.key(rng),
                    2 => text.insert_str(0, "\u{0}\u{1F600}\u{FFFF}\r\n\ndata: "),
                    _ => text.clear(),
                },
                _ => *node = self.scalar(rng),
            },
        }
    }

    fn key(&self, rng: &mut Rng) -> String {
        match rng.pick(&self.dict) {
            Some(word) if !rng.one_in(8) => word.clone(),
            _ => ["", "type", "$ref", "id", "\u{0}", "a"][rng.below(6)].to_string(),
        }
    }

    /// A random node of a random donor.
    fn donor(&self, rng: &mut Rng) -> Option<Value> {
        let donor = rng.pick(&self.donors)?;
        let mut k = rng.below(count_nodes(donor));
        nth(donor, &mut k).cloned()
    }

    fn long_string(&self, rng: &mut Rng) -> String {
        const PIECES: &[&str] = &["a", "é", "\u{1F600}", " ", "\\", "\"", "\n", "\u{0}", "ab "];
        let piece = PIECES[rng.below(PIECES.len())];
        let max = (self.max_len / 2).max(1) / piece.len();
        piece.repeat(rng.small(max.max(1)))
    }

    fn scalar(&self, rng: &mut Rng) -> Value {
        match rng.below(16) {
            0 => Value::Null,
            1 => Value::Bool(true),
            2 => Value::Bool(false),
            3 => Value::from(0),
            4 => Value::from(-1),
            5 => Value::from(u64::MAX),
            6 => Value::from(i64::MIN),
            7 => Value::from(u64::from(u32::MAX) + 1),
            8 => Number::from_f64(1e300).map_or(Value::Null, Value::Number),
            9 => Number::from_f64(-0.5).map_or(Value::Null, Value::Number),
            10 => Number::from_f64(1e-300).map_or(Value::Null, Value::Number),
            11 => Value::String(String::new()),
            12 => Value::String(self.key(rng)),
            13 => Value::String(self.long_string(rng)),
            14 => Value::from(rng.below(100) as u64),
            _ => Value::String("\u{0}\u{1F600}\u{FFFF}\u{200B}é".to_string()),
        }
    }
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `k`-th node in pre-order.
fn nth<'a>(value: &'a Value, k: &mut usize) -> Option<&'a Value> {
    if *k == 0 {
        return Some(value);
    }
    *k -= 1;
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(map) => Box::new(map.values()),
        _ => return None,
    };
    for child in children {
        if let Some(found) = nth(child, k) {
            return Some(found);
        }
    }
    None
}

fn nth_mut<'a>(value: &'a mut Value, k: &mut usize) -> Option<&'a mut Value> {
    if *k == 0 {
        return Some(value);
    }
    *k -= 1;
    let children: Box<dyn Iterator<Item = &mut Value>> = match value {
        Value::Array(items) => Box::new(items.iter_mut()),
        Value::Object(map) => Box::new(map.values_mut()),
        _ => return None,
    };
    for child in children {
        if let Some(found) = nth_mut(child, k) {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests;
