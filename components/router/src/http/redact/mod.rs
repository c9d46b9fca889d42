//! Redaction: the one function every upstream-derived byte goes through before a client sees it
//! (forwarded bodies and streams, error messages built from provider replies, rendered answers,
//! stored responses).
//!
//! **Contract.** [`Redactor::bytes`] returns its input with every span that *encodes* one of the
//! secrets replaced by `[redacted]`, and every other byte as it was (invalid UTF-8 included). A
//! span encodes a secret when it is:
//!
//! - the secret written literally;
//! - JSON string escapes of any of its characters, in any mix (`\u0073`, `\u004B`, `\/`,
//!   surrogate pairs), up to [`ESCAPE_DEPTH`] layers deep (a JSON document quoted inside
//!   another's string);
//! - percent-encoding (`%73`, `%2F`, either case of hex) of any of its ASCII characters, in any
//!   mix, on top of those JSON layers;
//! - base64, standard or URL-safe alphabet, of any byte string holding the secret, at each of
//!   the three alignments: the run of base64 characters that the secret's bytes alone decide
//!   (secrets of at least [`MIN_DERIVED_BYTES`]);
//! - a partial hint: a prefix of the secret and/or a suffix of it around a mask of `*`, `…` or
//!   three or more `.`, together revealing at least [`MIN_HINT_CHARS`] of its characters
//!   (`sk-pr…wxyz`, `sk-proj-****wxyz`, `...wxyz`; secrets of at least [`MIN_DERIVED_BYTES`]).
//!
//! Secrets shorter than [`MIN_SECRET_BYTES`] are ignored (they would match ordinary text). Where
//! several spans overlap, the longest starting first wins. A span that starts right after an odd
//! run of backslashes takes that backslash too, so a redacted JSON string stays JSON.
//!
//! **Cost.** One pass over the bytes. A position is looked at further only when its two bytes
//! could begin an encoded secret (a 64-Kbit table of byte pairs built from the secrets) or it
//! holds `\`, `%` (an escape could begin there) or a hint mask; bodies without a key cost a table
//! lookup per byte (see `examples/redact-bench.rs`).
//!
//! [`Stream`] applies the same to a stream, line by line: a line is sent once its end arrived, so
//! a key split across chunks is still found (SSE and NDJSON events are lines).

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";
/// Secrets shorter than this are not redacted (they would match ordinary text).
pub const MIN_SECRET_BYTES: usize = 4;
/// Secrets at least this long also have their base64 forms and partial hints redacted (shorter
/// base64 runs and hints would match ordinary text).
pub const MIN_DERIVED_BYTES: usize = 12;
/// The fewest characters of a secret a partial hint must reveal to count as one.
pub const MIN_HINT_CHARS: usize = 4;
/// How many layers of JSON string escaping are seen through: one for a JSON body, two for a JSON
/// document relayed inside another's string (an aggregator passing on a provider's error).
pub const ESCAPE_DEPTH: u8 = 2;
/// The longest hint mask, in characters (OpenAI's run to about 150 `*`).
const MAX_MASK_CHARS: usize = 512;
/// The most raw bytes one decoded character can take: `%`-escaped (3 characters) at JSON depth 2,
/// each a `\uXXXX` of `\uXXXX` (36 bytes).
const MAX_BYTES_PER_CHAR: usize = 108;
/// A stream line longer than this is redacted in overlapping windows instead of waited for.
const MAX_HELD_BYTES: usize = 1024 * 1024;

/// Where text is read: how many JSON string layers are decoded, and whether `%XX` is decoded on
/// top.
#[derive(Clone, Copy, PartialEq)]
struct Layer {
    json: u8,
    percent: bool,
}

/// One encoded form to look for, as the characters it decodes to.
struct Pattern {
    chars: Vec<char>,
    /// It holds `\` or `%` itself, so a shallower layer may read it where a deeper one does not.
    shallow: bool,
}

/// The secrets of one request, ready to redact.
pub struct Redactor {
    patterns: Vec<Pattern>,
    /// Secrets whose partial hints are redacted.
    hints: Vec<Vec<char>>,
    /// Which patterns (without `\` or `%`) start with each ASCII character; index 128: the
    /// others.
    by_first: Vec<Vec<usize>>,
    /// Bit `a << 8 | b`: an encoded secret can start with bytes `a b`.
    pairs: Vec<u64>,
    /// Bytes that may start an encoded secret whatever follows.
    starts: [bool; 256],
    /// The most raw bytes one match can span.
    window: usize,
}

impl Redactor {
    pub fn new(secrets: &[&str]) -> Self {
        let mut redactor = Self {
            patterns: Vec::new(),
            hints: Vec::new(),
            by_first: vec![Vec::new(); 129],
            pairs: vec![0; 1024],
            starts: [false; 256],
            window: 0,
        };
        redactor.starts[usize::from(b'\\')] = true;
        redactor.starts[usize::from(b'%')] = true;
        let mut longest = 0;
        for secret in secrets.iter().filter(|s| s.len() >= MIN_SECRET_BYTES) {
            redactor.add(secret);
            longest = longest.max(secret.chars().count());
            if secret.len() < MIN_DERIVED_BYTES {
                continue;
            }
            for core in base64_cores(secret.as_bytes()) {
                redactor.add(&core);
            }
            let chars: Vec<char> = secret.chars().collect();
            for mask in [b'*', 0xE2, b'.', b'\\', b'%'] {
                redactor.pair(secret.as_bytes()[0], mask);
            }
            redactor.hints.push(chars);
        }
        if !redactor.hints.is_empty() {
            redactor.starts[usize::from(b'*')] = true;
            // `…` is E2 80 A6.
            redactor.starts[0xE2] = true;
            redactor.pair(b'.', b'.');
        }
        let hint = if redactor.hints.is_empty() {
            0
        } else {
            2 * longest + MAX_MASK_CHARS
        };
        redactor.window = longest.max(hint) * MAX_BYTES_PER_CHAR;
        // One lookup per byte: a start byte sets every pair it begins.
        for a in 0..=255u8 {
            if redactor.starts[usize::from(a)] {
                (0..=255u8).for_each(|b| redactor.pair(a, b));
            }
        }
        redactor
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    fn add(&mut self, text: &str) {
        if self
            .patterns
            .iter()
            .any(|p| p.chars.iter().copied().eq(text.chars()))
        {
            return;
        }
        let mut bytes = text.bytes();
        let (Some(first), Some(second)) = (bytes.next(), bytes.next()) else {
            return;
        };
        // The second character may be written as it is or start with `\` or `%`; a multi-byte
        // first character's first two bytes are fixed.
        for next in [second, b'\\', b'%'] {
            self.pair(first, next);
        }
        let pattern = Pattern {
            chars: text.chars().collect(),
            shallow: text.contains(['\\', '%']),
        };
        if !pattern.shallow {
            let slot = pattern.chars.first().map_or(128, |c| first_slot(*c));
            self.by_first[slot].push(self.patterns.len());
        }
        self.patterns.push(pattern);
    }

    fn pair(&mut self, a: u8, b: u8) {
        let bit = usize::from(a) << 8 | usize::from(b);
        self.pairs[bit >> 6] |= 1 << (bit & 63);
    }

    fn candidate(&self, text: &[u8], at: usize) -> bool {
        let a = text[at];
        let b = text.get(at + 1).copied().unwrap_or(0);
        let bit = usize::from(a) << 8 | usize::from(b);
        self.pairs[bit >> 6] & (1 << (bit & 63)) != 0
    }

    /// `text` with every encoded secret replaced by `[redacted]` (see the module's contract);
    /// borrowed when nothing was found.
    pub fn bytes<'t>(&self, text: &'t [u8]) -> Cow<'t, [u8]> {
        self.redact_until(text, text.len()).0
    }

    /// [`Redactor::bytes`] for text (a redaction keeps valid UTF-8 valid).
    pub fn text(&self, text: &str) -> String {
        match self.bytes(text.as_bytes()) {
            Cow::Borrowed(_) => text.to_string(),
            Cow::Owned(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
            },
        }
    }

    /// Redact the matches that start before `until` (all of them fit in `text` when `until` is at
    /// least one match span from its end, or at a line end); the output covers `text` up to the
    /// returned length (at least `until`, more when a match runs past it).
    fn redact_until<'t>(&self, text: &'t [u8], until: usize) -> (Cow<'t, [u8]>, usize) {
        if self.is_empty() {
            return (Cow::Borrowed(&text[..until]), until);
        }
        let deepest = Layer {
            json: if text.contains(&b'\\') {
                ESCAPE_DEPTH
            } else {
                0
            },
            percent: text.contains(&b'%'),
        };
        let mut out: Option<Vec<u8>> = None;
        // Where the text after the last redaction starts (copied to `out` as it is).
        let mut copied = 0;
        let mut at = 0;
        while at < until {
            let found = if self.candidate(text, at) {
                self.longest_at(text, at, deepest)
            } else {
                None
            };
            let Some(end) = found else {
                at += 1;
                continue;
            };
            let out = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
            out.extend_from_slice(&text[copied..at]);
            // A match right after an odd run of backslashes starts inside an escape (`\\` +
            // `\u0073...`): take that backslash too.
            let run = text[copied..at]
                .iter()
                .rev()
                .take_while(|b| **b == b'\\')
                .count();
            if run % 2 == 1 {
                out.pop();
            }
            out.extend_from_slice(REDACTED.as_bytes());
            copied = end;
            at = end;
        }
        let covered = at.max(until);
        match out {
            None => (Cow::Borrowed(&text[..covered]), covered),
            Some(mut out) => {
                out.extend_from_slice(&text[copied..covered]);
                (Cow::Owned(out), covered)
            }
        }
    }

    /// The end of the longest encoded secret starting at byte `at`.
    ///
    /// A pattern without `\` or `%` that matches at some layer matches at the deepest one too
    /// (decoding only changes what follows a `\` or `%`), so only that layer is read for it.
    fn longest_at(&self, text: &[u8], at: usize, deepest: Layer) -> Option<usize> {
        let first = decode(text, at, deepest).map(|(c, _)| c);
        let mut best: Option<usize> = None;
        let mut consider = |end: Option<usize>| {
            if let Some(end) = end {
                best = Some(best.map_or(end, |b| b.max(end)));
            }
        };
        for pattern in self.patterns.iter().filter(|p| p.shallow) {
            for json in 0..=deepest.json {
                for percent in [false, deepest.percent] {
                    let layer = Layer { json, percent };
                    consider(match_at(text, at, layer, &pattern.chars));
                }
            }
        }
        if let Some(c) = first {
            for &index in &self.by_first[first_slot(c)] {
                consider(match_at(text, at, deepest, &self.patterns[index].chars));
            }
        }
        // A hint starts with the secret's first character or with its mask.
        let masked = matches!(first, Some('*' | '…' | '.'));
        for secret in &self.hints {
            if masked || first == secret.first().copied() {
                consider(hint_at(text, at, deepest, secret));
            }
        }
        best
    }
}

/// Redactors built lately, the most recently used last: an instance serves many requests with
/// the same secrets, and building a redactor (its tables of byte pairs and encoded forms) costs
/// more than redacting a small answer.
pub const KEPT_REDACTORS: usize = 8;

thread_local! {
    static KEPT: RefCell<Vec<(Vec<String>, Rc<Redactor>)>> = const { RefCell::new(Vec::new()) };
}

/// The redactor for `secrets`: one of the last [`KEPT_REDACTORS`] built, when one was built for
/// exactly these secrets, else a new one (kept in place of the least recently used).
pub fn kept(secrets: &[&str]) -> Rc<Redactor> {
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        let same = |(built_for, _): &(Vec<String>, Rc<Redactor>)| {
            built_for
                .iter()
                .map(String::as_str)
                .eq(secrets.iter().copied())
        };
        if let Some(at) = kept.iter().position(same) {
            let hit = kept.remove(at);
            let redactor = Rc::clone(&hit.1);
            kept.push(hit);
            return redactor;
        }
        let redactor = Rc::new(Redactor::new(secrets));
        if kept.len() >= KEPT_REDACTORS {
            kept.remove(0);
        }
        let built_for = secrets.iter().map(|s| (*s).to_string()).collect();
        kept.push((built_for, Rc::clone(&redactor)));
        redactor
    })
}

/// Where patterns starting with `c` are listed in `Redactor::by_first`.
fn first_slot(c: char) -> usize {
    if c.is_ascii() { c as usize } else { 128 }
}

/// Redact `secrets` from `text` (a [`Redactor`] made for one use).
pub fn redact(text: &str, secrets: &[&str]) -> String {
    Redactor::new(secrets).text(text)
}

/// A stream redacted on its way to the client (see the module's notes).
pub struct Stream<'r> {
    redactor: &'r Redactor,
    held: Vec<u8>,
}

impl<'r> Stream<'r> {
    pub fn new(redactor: &'r Redactor) -> Self {
        Self {
            redactor,
            held: Vec::new(),
        }
    }

    /// The bytes of `chunk` (and of earlier ones held back) that may go to the client now:
    /// everything up to the last line end, redacted. A line longer than about 1 MiB is sent but
    /// its last match span.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.redactor.is_empty() {
            return chunk.to_vec();
        }
        self.held.extend_from_slice(chunk);
        let line_end = self
            .held
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let limit = MAX_HELD_BYTES.max(2 * self.redactor.window);
        let until = if self.held.len() - line_end > limit {
            self.held.len() - self.redactor.window
        } else {
            line_end
        };
        if until == 0 {
            return Vec::new();
        }
        let (out, covered) = self.redactor.redact_until(&self.held, until);
        let out = out.into_owned();
        self.held.drain(..covered);
        out
    }

    /// What is held back, redacted: the stream ended.
    pub fn finish(&mut self) -> Vec<u8> {
        let held = std::mem::take(&mut self.held);
        self.redactor.bytes(&held).into_owned()
    }
}

/// The base64 runs that `secret` alone decides, at each alignment of it in a longer byte string,
/// in the standard and the URL-safe alphabet.
fn base64_cores(secret: &[u8]) -> Vec<String> {
    use base64ct::Encoding;
    let mut out = Vec::new();
    for offset in 0..3 {
        let mut bytes = vec![0; offset];
        bytes.extend_from_slice(secret);
        let encoded = base64ct::Base64Unpadded::encode_string(&bytes);
        // Character `i` holds bits 6i..6i+6 of the string; the secret holds bits
        // 8·offset..8·(offset + len).
        let first = (8 * offset).div_ceil(6);
        let last = 8 * (offset + secret.len()) / 6;
        let Some(core) = encoded.get(first..last) else {
            continue;
        };
        let url_safe = core.replace('+', "-").replace('/', "_");
        out.push(core.to_string());
        if url_safe != core {
            out.push(url_safe);
        }
    }
    out
}

/// Where `chars` ends when `text` from byte `at`, read at `layer`, starts with them.
fn match_at(text: &[u8], mut at: usize, layer: Layer, chars: &[char]) -> Option<usize> {
    for expected in chars {
        let (c, next) = decode(text, at, layer)?;
        if c != *expected {
            return None;
        }
        at = next;
    }
    Some(at)
}

/// Where a partial hint of `secret` starting at `at` ends: a prefix of it, a mask, a suffix of
/// it, revealing at least [`MIN_HINT_CHARS`] characters.
fn hint_at(text: &[u8], at: usize, layer: Layer, secret: &[char]) -> Option<usize> {
    // The longest prefix of the secret written at `at`.
    let (mut longest, mut pos) = (0, at);
    while let Some(expected) = secret.get(longest) {
        match decode(text, pos, layer) {
            Some((c, next)) if c == *expected => {
                pos = next;
                longest += 1;
            }
            _ => break,
        }
    }
    // The longest prefix first; a shorter one only where the secret's own `.`, `*` or `…` may
    // have run into the mask.
    for shown in (0..=longest).rev() {
        if shown < longest && !matches!(secret[shown], '*' | '…' | '.') {
            continue;
        }
        let end = if shown == longest {
            Some(pos)
        } else {
            match_at(text, at, layer, &secret[..shown])
        };
        let Some(after) = end.and_then(|end| mask_at(text, end, layer)) else {
            continue;
        };
        let (tail, end) = suffix_at(text, after, layer, secret);
        if shown + tail >= MIN_HINT_CHARS {
            return Some(end);
        }
    }
    None
}

/// Where a mask starting at `at` ends: `*` or `…` at least once, or three `.` or more.
fn mask_at(text: &[u8], at: usize, layer: Layer) -> Option<usize> {
    let (mut pos, mut stars, mut dots) = (at, 0, 0);
    while let Some((c, next)) = decode(text, pos, layer) {
        match c {
            '*' | '…' => stars += 1,
            '.' => dots += 1,
            _ => break,
        }
        if stars + dots > MAX_MASK_CHARS {
            return None;
        }
        pos = next;
    }
    (stars > 0 || dots >= 3).then_some(pos)
}

/// The longest suffix of `secret` that `text` starts with at `at`: its length and end.
fn suffix_at(text: &[u8], at: usize, layer: Layer, secret: &[char]) -> (usize, usize) {
    let mut read = Vec::new();
    let mut pos = at;
    while read.len() < secret.len() {
        let Some((c, next)) = decode(text, pos, layer) else {
            break;
        };
        read.push((c, next));
        pos = next;
    }
    for len in (1..=read.len()).rev() {
        let tail = &secret[secret.len() - len..];
        if read[..len].iter().map(|(c, _)| c).eq(tail.iter()) {
            return (len, read[len - 1].1);
        }
    }
    (0, at)
}

/// The character at byte `at` read at `layer`, and the byte after it.
fn decode(text: &[u8], at: usize, layer: Layer) -> Option<(char, usize)> {
    let (c, next) = json(text, at, layer.json)?;
    if !layer.percent || c != '%' {
        return Some((c, next));
    }
    let escaped = json(text, next, layer.json).and_then(|(high, after)| {
        let (low, end) = json(text, after, layer.json)?;
        let value = high.to_digit(16)? * 16 + low.to_digit(16)?;
        // ASCII only: a secret's other characters are read as themselves.
        (value < 0x80).then(|| (char::from(value as u8), end))
    });
    Some(escaped.unwrap_or((c, next)))
}

/// One character of `text` as written: UTF-8, or U+FFFD for a byte that starts none.
fn literal(text: &[u8], at: usize) -> Option<(char, usize)> {
    let lead = *text.get(at)?;
    if lead < 0x80 {
        return Some((char::from(lead), at + 1));
    }
    let len = match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    };
    let c = text
        .get(at..at + len)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|s| s.chars().next());
    Some(match c {
        Some(c) => (c, at + len),
        None => ('\u{FFFD}', at + 1),
    })
}

/// The character at byte `at` decoded `depth` times as the contents of a JSON string, and the
/// byte after it. A backslash that starts no valid escape stands for itself.
fn json(text: &[u8], at: usize, depth: u8) -> Option<(char, usize)> {
    let Some(inner) = depth.checked_sub(1) else {
        return literal(text, at);
    };
    let (c, after) = json(text, at, inner)?;
    if c != '\\' {
        return Some((c, after));
    }
    Some(escape(text, after, inner).unwrap_or((c, after)))
}

/// The escape after a backslash (`at` is just past it), its characters read at `depth`.
fn escape(text: &[u8], at: usize, depth: u8) -> Option<(char, usize)> {
    let (c, after) = json(text, at, depth)?;
    let simple = match c {
        '"' | '\\' | '/' => c,
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'u' => {
            let (unit, after) = hex4(text, after, depth)?;
            if !(0xD800..0xDC00).contains(&unit) {
                return char::from_u32(unit).map(|c| (c, after));
            }
            // A high surrogate: its low half must follow as `\uXXXX`.
            let (backslash, next) = json(text, after, depth)?;
            let (u, next) = json(text, next, depth)?;
            if backslash != '\\' || u != 'u' {
                return None;
            }
            let (low, end) = hex4(text, next, depth)?;
            if !(0xDC00..0xE000).contains(&low) {
                return None;
            }
            let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            return char::from_u32(code).map(|c| (c, end));
        }
        _ => return None,
    };
    Some((simple, after))
}

/// Four hex digits read at `depth`: their value and the byte after them.
fn hex4(text: &[u8], mut at: usize, depth: u8) -> Option<(u32, usize)> {
    let mut value = 0;
    for _ in 0..4 {
        let (c, next) = json(text, at, depth)?;
        value = value * 16 + c.to_digit(16)?;
        at = next;
    }
    Some((value, at))
}

#[cfg(test)]
mod tests;
