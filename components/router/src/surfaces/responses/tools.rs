//! Tools the Responses API declares beyond plain functions, and how their calls come back:
//!
//! - `namespace` tools group functions under a name; providers get them flattened as
//!   `<namespace>__<name>`, and calls are split back (`namespace` + `name`).
//! - `custom` (freeform) tools — Codex's `exec` and `apply_patch` — take their input as plain text
//!   (optionally to a grammar), not JSON arguments. Providers only know JSON function tools, so a
//!   custom tool travels as a function with one string parameter, `input`, and its calls come back
//!   as `custom_tool_call` items carrying that text.
//! - `additional_tools` input items (Codex declares its tools there, not in `tools`) add tools
//!   mid-conversation; they are offered like the request's own.

use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::surfaces::ToolNames;

/// Separates a namespace from a tool name when namespaced tools are flattened for providers
/// (which accept only `[A-Za-z0-9_-]` names).
pub const NAMESPACE_SEPARATOR: &str = "__";

/// The one parameter of a custom tool's function.
const INPUT: &str = "input";

/// The function parameters a custom tool is offered with.
pub fn custom_parameters() -> String {
    json!({
        "type": "object",
        "properties": {INPUT: {"type": "string", "description": "The tool's whole input, as plain text."}},
        "required": [INPUT],
        "additionalProperties": false,
    })
    .to_string()
}

/// The description a custom tool is offered with: its own, and the grammar its input follows.
pub fn custom_description(
    description: Option<String>,
    format: Option<&RawValue>,
) -> Option<String> {
    let grammar = format
        .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
        .filter(|format| format["type"] == "grammar")
        .and_then(|format| {
            let definition = format["definition"].as_str()?.to_string();
            let syntax = format["syntax"].as_str().unwrap_or("grammar").to_string();
            Some(format!(
                "The `{INPUT}` text must follow this {syntax} grammar:\n{definition}"
            ))
        });
    match (description.filter(|d| !d.is_empty()), grammar) {
        (Some(description), Some(grammar)) => Some(format!("{description}\n\n{grammar}")),
        (description, grammar) => description.or(grammar),
    }
}

/// A custom tool call's text as the function arguments its provider sees.
pub fn custom_arguments(input: &str) -> String {
    json!({ INPUT: input }).to_string()
}

/// The text of a custom tool call from the arguments a provider wrote (the arguments themselves
/// when they are not the expected object).
pub fn custom_input(arguments: &str) -> String {
    serde_json::from_str::<Value>(arguments)
        .ok()
        .and_then(|value| value[INPUT].as_str().map(str::to_string))
        .unwrap_or_else(|| arguments.to_string())
}

/// The namespaces and custom tools among `tools` (a `tools` array, or an `additional_tools`
/// item's), added to `names`.
pub fn collect(tools: &Value, names: &mut ToolNames) {
    for tool in tools.as_array().into_iter().flatten() {
        let Some(name) = tool["name"].as_str() else {
            continue;
        };
        match tool["type"].as_str() {
            Some("namespace") => {
                names.namespaces.push(name.to_string());
                for inner in tool["tools"].as_array().into_iter().flatten() {
                    if inner["type"] == "custom"
                        && let Some(inner_name) = inner["name"].as_str()
                    {
                        names
                            .freeform
                            .push(format!("{name}{NAMESPACE_SEPARATOR}{inner_name}"));
                    }
                }
            }
            Some("custom") => names.freeform.push(name.to_string()),
            _ => {}
        }
    }
}

/// The tool names a Responses request declares: in `tools` and in `additional_tools` items of
/// its `input`.
pub fn declared(tools: Option<&RawValue>, input: Option<&RawValue>) -> ToolNames {
    let mut names = ToolNames::default();
    let parse = |raw: Option<&RawValue>| {
        raw.and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .unwrap_or(Value::Null)
    };
    collect(&parse(tools), &mut names);
    // Parsed only when the input may hold such items.
    if input.is_some_and(|raw| raw.get().contains("additional_tools")) {
        for item in parse(input).as_array().into_iter().flatten() {
            if item["type"] == "additional_tools" {
                collect(&item["tools"], &mut names);
            }
        }
    }
    names
}

/// The output item for a tool call: `custom_tool_call` with its text for a custom tool, else
/// `function_call`; a flattened namespaced name is split back into `namespace` + `name`.
pub fn call_item(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
    names: &ToolNames,
) -> Value {
    let mut item = if names.freeform.iter().any(|f| f == name) {
        json!({
            "id": id, "type": "custom_tool_call", "status": status,
            "call_id": call_id, "name": name, "input": custom_input(arguments),
        })
    } else {
        json!({
            "id": id, "type": "function_call", "status": status,
            "call_id": call_id, "name": name, "arguments": arguments,
        })
    };
    for space in &names.namespaces {
        if let Some(inner) = name
            .strip_prefix(space.as_str())
            .and_then(|rest| rest.strip_prefix(NAMESPACE_SEPARATOR))
        {
            item["name"] = json!(inner);
            item["namespace"] = json!(space);
        }
    }
    item
}

/// The id prefix of a call's output item (`ctc` for custom tool calls, as OpenAI's).
pub fn call_prefix(name: &str, names: &ToolNames) -> &'static str {
    if names.freeform.iter().any(|f| f == name) {
        "ctc"
    } else {
        "fc"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn custom_tools_in_tools_namespaces_and_additional_tools_are_found() {
        let tools =
            raw(r#"[{"type":"custom","name":"apply_patch"},{"type":"function","name":"f"}]"#);
        let input = raw(
            r#"[{"type":"additional_tools","role":"developer","tools":[{"type":"namespace","name":"functions","tools":[{"type":"custom","name":"exec"},{"type":"function","name":"wait"}]}]},{"role":"user","content":"hi"}]"#,
        );
        let names = declared(Some(&tools), Some(&input));
        assert_eq!(names.namespaces, ["functions"]);
        assert_eq!(names.freeform, ["apply_patch", "functions__exec"]);
    }

    #[test]
    fn a_custom_call_comes_back_with_its_text() {
        let names = ToolNames {
            namespaces: vec!["functions".into()],
            freeform: vec!["functions__exec".into()],
        };
        let arguments = custom_arguments("console.log(\"hi\")\n");
        assert_eq!(custom_input(&arguments), "console.log(\"hi\")\n");
        let item = call_item(
            "ctc_1",
            "c1",
            "functions__exec",
            &arguments,
            "completed",
            &names,
        );
        assert_eq!(
            item,
            json!({"id": "ctc_1", "type": "custom_tool_call", "status": "completed", "call_id": "c1",
                   "name": "exec", "namespace": "functions", "input": "console.log(\"hi\")\n"})
        );
        let item = call_item("fc_1", "c2", "functions__wait", "{}", "completed", &names);
        assert_eq!(item["type"], "function_call");
        assert_eq!(call_prefix("functions__exec", &names), "ctc");
        // Arguments that are not the expected object pass as the text.
        assert_eq!(custom_input("plain"), "plain");
    }

    #[test]
    fn a_grammar_joins_the_description() {
        let format = raw(r#"{"type":"grammar","syntax":"lark","definition":"start: /.+/"}"#);
        let text = custom_description(Some("Patch files.".into()), Some(&format)).unwrap();
        assert!(text.starts_with("Patch files.\n\n"));
        assert!(text.contains("lark grammar:\nstart: /.+/"));
        assert_eq!(custom_description(None, None), None);
    }
}
