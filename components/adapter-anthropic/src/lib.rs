//! Adapter for the Anthropic Messages API (being written).
