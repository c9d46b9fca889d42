//! Hosted tools: tools the provider runs on its own servers (OpenAI's `web_search`, `file_search`,
//! `code_interpreter`, MCP ...; Anthropic's server tools such as `web_search_20250305`), as opposed
//! to function tools the client runs. Forwarded requests keep them; for a translated request the
//! gateway's `hosted_tools` setting says whether they are dropped (and named in
//! [`DROPPED_HEADER`]) or refused.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::http::error::ApiError;

/// Names the hosted tools a translated request went without.
pub const DROPPED_HEADER: &str = "x-apex-dropped-tools";

/// Just the type of a tool (and of the tools a Responses `namespace` groups).
#[derive(Deserialize)]
struct ToolType {
    #[serde(rename = "type")]
    kind: Option<String>,
    tools: Option<Vec<ToolType>>,
}

fn types(tools: Option<&RawValue>) -> Vec<ToolType> {
    tools
        .and_then(|raw| serde_json::from_str::<Vec<ToolType>>(raw.get()).ok())
        .unwrap_or_default()
}

fn push(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|n| n == name) {
        names.push(name.to_string());
    }
}

/// The hosted tools of a Responses request's `tools` (everything but `function` tools, also
/// inside a `namespace`).
pub fn in_responses_tools(tools: Option<&RawValue>) -> Vec<String> {
    let mut names = Vec::new();
    for tool in types(tools) {
        match tool.kind.as_deref() {
            Some("function") | None => {}
            Some("namespace") => {
                for inner in tool.tools.unwrap_or_default() {
                    match inner.kind.as_deref() {
                        Some("function") | None => {}
                        Some(kind) => push(&mut names, kind),
                    }
                }
            }
            Some(kind) => push(&mut names, kind),
        }
    }
    names
}

/// The server tools of an Anthropic request's `tools` (every tool with a `type` but `custom`).
pub fn in_anthropic_tools(tools: Option<&RawValue>) -> Vec<String> {
    let mut names = Vec::new();
    for tool in types(tools) {
        match tool.kind.as_deref() {
            Some("custom") | None => {}
            Some(kind) => push(&mut names, kind),
        }
    }
    names
}

/// The error for a request whose hosted tools the gateway refuses (`hosted_tools = "reject"`).
pub fn refused(names: &[String]) -> ApiError {
    let listed = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    ApiError::bad_request(format!(
        "tools: the hosted tool {listed} runs on the provider's own servers and this model's provider cannot run it; send function tools only (this gateway refuses hosted tools instead of leaving them out)."
    ))
    .code("unsupported_tool")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn responses_hosted_tools_are_everything_but_functions() {
        let tools = raw(
            r#"[{"type":"function","name":"f"},{"type":"web_search"},{"type":"namespace","name":"n","tools":[{"type":"function","name":"g"},{"type":"mcp"}]},{"type":"web_search"}]"#,
        );
        assert_eq!(in_responses_tools(Some(&tools)), ["web_search", "mcp"]);
        assert!(in_responses_tools(None).is_empty());
    }

    #[test]
    fn anthropic_server_tools_are_typed_tools_but_custom() {
        let tools = raw(
            r#"[{"name":"f","input_schema":{}},{"type":"custom","name":"g"},{"type":"web_search_20250305","name":"web_search"}]"#,
        );
        assert_eq!(in_anthropic_tools(Some(&tools)), ["web_search_20250305"]);
    }
}
