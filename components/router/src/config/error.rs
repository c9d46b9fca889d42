//! What is wrong with a config, and where.

use std::fmt;

/// A config that cannot be used: `path` says where (`providers.groq.keys`,
/// `models.fast.targets[1]`; empty for the document as a whole), `problem` what is wrong.
/// Displayed as `path: problem`, the text operators see in logs and in the 500 a broken
/// gateway answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// A problem with the document itself (TOML syntax, unknown fields, wrong types): the TOML
    /// parser's message says the line.
    pub fn document(problem: impl fmt::Display) -> Self {
        Self::new("", problem.to_string())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "config: {}", self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

impl std::error::Error for ConfigError {}
