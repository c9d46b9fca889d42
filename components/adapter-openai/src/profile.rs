//! Provider profiles: what differs between OpenAI-compatible providers, as data.

/// Quirks of one OpenAI-compatible provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// Accepts `stream_options: {"include_usage": true}`.
    pub stream_usage: bool,
    /// Sends reasoning as `reasoning_content` and wants it back on the next turn (DeepSeek).
    pub reasoning_content: bool,
    /// Accepts the `developer` role (otherwise it becomes `system`).
    pub developer_role: bool,
    /// Uses `max_completion_tokens` instead of `max_tokens`.
    pub max_completion_tokens: bool,
    /// Accepts `reasoning_effort`.
    pub reasoning_effort: bool,
    /// Its current models take images (described to clients, e.g. Ollama's `/api/show`).
    pub vision: bool,
    /// Its current models return reasoning text (described to clients likewise).
    pub thinking: bool,
}

const GENERIC: Profile = Profile {
    name: "generic",
    stream_usage: true,
    reasoning_content: false,
    developer_role: false,
    max_completion_tokens: false,
    reasoning_effort: false,
    vision: true,
    thinking: false,
};

const PROFILES: &[Profile] = &[
    Profile {
        name: "openai",
        developer_role: true,
        max_completion_tokens: true,
        reasoning_effort: true,
        ..GENERIC
    },
    Profile {
        name: "azure",
        developer_role: true,
        max_completion_tokens: true,
        reasoning_effort: true,
        ..GENERIC
    },
    Profile {
        name: "deepseek",
        reasoning_content: true,
        vision: false,
        thinking: true,
        ..GENERIC
    },
    Profile {
        name: "groq",
        ..GENERIC
    },
    Profile {
        name: "moonshot",
        ..GENERIC
    },
    Profile {
        name: "openrouter",
        ..GENERIC
    },
    Profile {
        name: "xai",
        reasoning_effort: true,
        ..GENERIC
    },
    Profile {
        name: "together",
        ..GENERIC
    },
    Profile {
        name: "fireworks",
        ..GENERIC
    },
    Profile {
        name: "deepinfra",
        ..GENERIC
    },
    Profile {
        name: "cerebras",
        ..GENERIC
    },
    Profile {
        name: "mistral",
        stream_usage: false,
        ..GENERIC
    },
    Profile {
        name: "ollama",
        ..GENERIC
    },
    // 01.AI (Yi): OpenAI-compatible chat; `stream_options` is not in its documented parameters.
    Profile {
        name: "yi",
        stream_usage: false,
        ..GENERIC
    },
    // Aliyun DashScope compatible mode / Bailian: documents `stream_options.include_usage`; Qwen's
    // reasoning models stream `reasoning_content` like DeepSeek.
    Profile {
        name: "aliyun",
        reasoning_content: true,
        ..GENERIC
    },
    Profile {
        name: "bailian",
        reasoning_content: true,
        ..GENERIC
    },
];

/// The profile called `name`; unknown names get the generic OpenAI-compatible behaviour.
pub fn profile(name: &str) -> Profile {
    PROFILES
        .iter()
        .find(|p| p.name == name)
        .copied()
        .unwrap_or(GENERIC)
}
