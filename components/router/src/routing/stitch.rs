//! Where a continuation of a cut stream joins what the client already has (`resume`): a candidate
//! given the client's text as a prefill may continue it (its text follows on) or start over (its
//! text begins with the client's, which is skipped); one asked afresh must start over. Text that
//! fits neither cannot be stitched: the client gets an error, never a garbled answer.

use crate::http::error::ApiError;

/// Where the continuation's text joins the client's.
pub struct Stitch {
    /// The text the client has.
    sent: String,
    /// Whether the candidate was given `sent` as a prefill (its text may continue it, or start
    /// over with it); else its text must start with `sent`.
    prefilled: bool,
    /// The candidate's text held back while it may still be `sent` again.
    lead: String,
    /// Whether the join is found (from now on text passes through).
    joined: bool,
    /// The text written after `sent`.
    written: String,
}

impl Stitch {
    pub fn new(sent: &str, prefilled: bool) -> Self {
        Self {
            sent: sent.to_string(),
            prefilled,
            lead: String::new(),
            joined: sent.is_empty(),
            written: String::new(),
        }
    }

    /// The part of `text` to write, or the reason the answers cannot be stitched.
    pub fn text(&mut self, text: &str) -> Result<String, ApiError> {
        if self.joined {
            self.written.push_str(text);
            return Ok(text.to_string());
        }
        self.lead.push_str(text);
        if self.lead.len() >= self.sent.len() {
            if let Some(rest) = self.lead.strip_prefix(self.sent.as_str()) {
                // It started over: what follows the client's text.
                let rest = rest.to_string();
                return Ok(self.join(rest));
            }
        } else if self.sent.starts_with(self.lead.as_str()) {
            // Still the client's text again, so far.
            return Ok(String::new());
        }
        if self.prefilled {
            // A continuation of the prefill.
            let lead = std::mem::take(&mut self.lead);
            return Ok(self.join(lead));
        }
        Err(not_stitchable())
    }

    /// The answer ended: fine once joined, or for a prefilled candidate (its held-back text
    /// must then be written — `end` is only called on a finish).
    pub fn end(&mut self) -> Result<(), ApiError> {
        if self.joined || (self.lead.is_empty() && self.prefilled) {
            return Ok(());
        }
        Err(not_stitchable())
    }

    /// The text written after the client's so far.
    pub fn written(&self) -> &str {
        &self.written
    }

    fn join(&mut self, text: String) -> String {
        self.joined = true;
        self.written.push_str(&text);
        text
    }
}

pub fn not_stitchable() -> ApiError {
    ApiError::bad_gateway(
        "The upstream stream broke, and the provider that could continue it gave an answer that does not begin with the text already sent.",
    )
    .code("upstream_incomplete")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(stitch: &mut Stitch, pieces: &[&str]) -> Result<String, ApiError> {
        let mut out = String::new();
        for piece in pieces {
            out.push_str(&stitch.text(piece)?);
        }
        Ok(out)
    }

    #[test]
    fn a_prefilled_candidate_that_continues_is_passed_on() {
        let mut stitch = Stitch::new("one two", true);
        assert_eq!(
            feed(&mut stitch, &[" three", " four"]).unwrap(),
            " three four"
        );
        assert!(stitch.end().is_ok());
        assert_eq!(stitch.written(), " three four");
    }

    #[test]
    fn a_candidate_that_starts_over_is_joined_after_the_text_sent() {
        for prefilled in [true, false] {
            let mut stitch = Stitch::new("one two", prefilled);
            // Split anywhere, even inside the text sent.
            let out = feed(&mut stitch, &["on", "e t", "wo thr", "ee"]).unwrap();
            assert_eq!(out, " three", "prefilled: {prefilled}");
            assert!(stitch.end().is_ok());
        }
    }

    #[test]
    fn an_unprefilled_answer_that_differs_cannot_be_stitched() {
        let mut stitch = Stitch::new("one two", false);
        assert!(feed(&mut stitch, &["one", " TWO"]).is_err());
        // Shorter than what was sent, then finished.
        let mut stitch = Stitch::new("one two", false);
        assert_eq!(feed(&mut stitch, &["one"]).unwrap(), "");
        assert!(stitch.end().is_err());
    }

    #[test]
    fn nothing_sent_means_everything_passes() {
        let mut stitch = Stitch::new("", false);
        assert_eq!(feed(&mut stitch, &["hello"]).unwrap(), "hello");
        assert!(stitch.end().is_ok());
    }
}
