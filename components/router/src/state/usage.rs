//! Token counts as providers report them, and what they cost: the numbers the request log
//! prints, per-key limits count and `GET /usage` sums.

use apex_adapter_kit::types::Usage;
use serde::{Deserialize, Serialize};

/// One request's tokens (the neutral convention: `input` includes cached input tokens).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    #[serde(default)]
    pub cache_read: u64,
    #[serde(default)]
    pub cache_write: u64,
    #[serde(default)]
    pub reasoning: u64,
}

impl From<&Usage> for Tokens {
    fn from(usage: &Usage) -> Self {
        Self {
            input: u64::from(usage.input_tokens),
            output: u64::from(usage.output_tokens),
            cache_read: u64::from(usage.cache_read_tokens.unwrap_or(0)),
            cache_write: u64::from(usage.cache_write_tokens.unwrap_or(0)),
            reasoning: u64::from(usage.reasoning_tokens.unwrap_or(0)),
        }
    }
}

impl Tokens {
    /// Input and output together: what token limits count.
    pub fn total(&self) -> u64 {
        self.input.saturating_add(self.output)
    }

    /// Another attempt's tokens added (a continued stream used two providers).
    pub fn add(&mut self, other: &Tokens) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
        self.reasoning = self.reasoning.saturating_add(other.reasoning);
    }

    /// A later report of the same answer's running totals (a stream reports input first and
    /// output as it grows): the larger count of each.
    pub fn update(&mut self, later: &Tokens) {
        self.input = self.input.max(later.input);
        self.output = self.output.max(later.output);
        self.cache_read = self.cache_read.max(later.cache_read);
        self.cache_write = self.cache_write.max(later.cache_write);
        self.reasoning = self.reasoning.max(later.reasoning);
    }
}

/// A model's prices in US dollars per million tokens (`[prices."provider/model"]`). Cached
/// reads and cache writes cost `input` unless priced; reasoning tokens are output tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
}

impl Price {
    /// What `tokens` cost, in millionths of a dollar (rounded up: a budget is never overrun by
    /// rounding).
    pub fn micro_usd(&self, tokens: &Tokens) -> u64 {
        let cached = tokens.cache_read.saturating_add(tokens.cache_write);
        let plain_input = tokens.input.saturating_sub(cached) as f64;
        // Dollars per million tokens are millionths of a dollar per token.
        let cost = plain_input * self.input
            + tokens.cache_read as f64 * self.cache_read.unwrap_or(self.input)
            + tokens.cache_write as f64 * self.cache_write.unwrap_or(self.input)
            + tokens.output as f64 * self.output;
        if cost.is_finite() && cost > 0.0 {
            cost.ceil() as u64
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_count_cached_input_at_its_own_price_and_round_up() {
        let price = Price {
            input: 3.0,
            output: 15.0,
            cache_read: Some(0.3),
            cache_write: None,
        };
        let tokens = Tokens {
            input: 1000,
            output: 100,
            cache_read: 800,
            cache_write: 0,
            reasoning: 40,
        };
        // 200 × 3 + 800 × 0.3 + 100 × 15 = 600 + 240 + 1500 micro-dollars.
        assert_eq!(price.micro_usd(&tokens), 2340);
        let third = Price {
            input: 1.0 / 3.0,
            output: 0.0,
            cache_read: None,
            cache_write: None,
        };
        assert_eq!(
            third.micro_usd(&Tokens {
                input: 1,
                ..Tokens::default()
            }),
            1
        );
    }

    #[test]
    fn running_totals_keep_the_larger_counts_and_attempts_add_up() {
        let mut seen = Tokens {
            input: 12,
            output: 1,
            ..Tokens::default()
        };
        seen.update(&Tokens {
            input: 0,
            output: 30,
            ..Tokens::default()
        });
        assert_eq!((seen.input, seen.output), (12, 30));
        seen.add(&seen.clone());
        assert_eq!(seen.total(), 84);
    }
}
