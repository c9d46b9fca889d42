#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Static checks of spin.toml (`spin up` itself runs in .ci/hosts.sh): its sources are what we
//! build, the dependency name is an import of the router that the chain exports, the variables the
//! router reads are declared and passed to it, the router may reach every built-in provider, and
//! apex.spin.toml names only variables Spin passes.

use std::path::{Path, PathBuf};

use apex_router::config::{CATALOG, CONFIG_VARIABLE, LOG_VARIABLE, SINGLE_KEY_VARIABLE};
use toml::{Table, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn manifest() -> Table {
    let text = std::fs::read_to_string(root().join("spin.toml")).expect("spin.toml");
    text.parse::<Table>().expect("spin.toml is TOML")
}

fn table<'a>(value: &'a Table, key: &str) -> &'a Table {
    value
        .get(key)
        .and_then(Value::as_table)
        .unwrap_or_else(|| panic!("spin.toml: `{key}` is not a table"))
}

fn component_names(wasm: &'static [u8], imports: bool) -> Vec<String> {
    let (engine, component) = crate::common::compiled(wasm);
    let ty = component.component_type();
    if imports {
        ty.imports(&engine).map(|(n, _)| n.to_string()).collect()
    } else {
        ty.exports(&engine).map(|(n, _)| n.to_string()).collect()
    }
}

#[test]
fn manifest_v2_shape() {
    let m = manifest();
    assert_eq!(
        m.get("spin_manifest_version").and_then(Value::as_integer),
        Some(2)
    );
    assert!(table(&m, "application").get("name").is_some());
    let triggers = m["trigger"]["http"].as_array().expect("[[trigger.http]]");
    assert_eq!(triggers.len(), 1);
    assert_eq!(triggers[0]["route"].as_str(), Some("/..."));
    let component = triggers[0]["component"].as_str().unwrap();
    assert!(
        table(&m, "component").contains_key(component),
        "trigger names a defined component"
    );
}

#[test]
fn sources_are_the_built_components() {
    let m = manifest();
    let apex = table(table(&m, "component"), "apex");
    let source = root().join(apex["source"].as_str().unwrap());
    assert_eq!(
        std::fs::read(&source).expect("router source exists (built by host-tests' build script)"),
        apex_host::components::ROUTER
    );
    let deps = table(apex, "dependencies");
    assert_eq!(deps.len(), 1);
    let (name, dep) = deps.iter().next().unwrap();
    let path = root().join(dep["path"].as_str().unwrap());
    assert_eq!(
        std::fs::read(&path).expect("chain source exists"),
        apex_host::components::ADAPTERS
    );

    // Spin plugs the dependency into the router's import of that name; the chain must export it
    // and need nothing Spin cannot give a dependency (no further component dependencies).
    assert!(
        component_names(apex_host::components::ROUTER, true).contains(name),
        "router imports {name}"
    );
    assert!(
        component_names(apex_host::components::ADAPTERS, false).contains(name),
        "chain exports {name}"
    );
    for import in component_names(apex_host::components::ADAPTERS, true) {
        assert!(
            import.starts_with("wasi:cli/")
                || import.starts_with("wasi:io/")
                || import.starts_with("apex:gateway/types@"),
            "chain imports {import}"
        );
    }
}

#[test]
fn router_imports_only_what_spin_implements() {
    let spin = [
        "wasi:http/",
        "wasi:io/",
        "wasi:clocks/",
        // Only `random`: the Workers host provides no `insecure-seed` (a std HashMap's seed).
        "wasi:random/random@",
        "wasi:cli/",
        "wasi:filesystem/",
        "wasi:sockets/",
        "wasi:keyvalue/store@0.2.0-draft2",
        "wasi:keyvalue/atomics@0.2.0-draft2",
        "wasi:config/store@0.2.0-draft-2024-09-27",
        "apex:gateway/adapter@0.3.0",
        "apex:gateway/types@0.3.0",
    ];
    for import in component_names(apex_host::components::ROUTER, true) {
        assert!(
            spin.iter().any(|s| import.starts_with(s)),
            "router imports {import}, which Spin does not provide"
        );
    }
    assert!(
        component_names(apex_host::components::ROUTER, false)
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@0.2"))
    );
}

#[test]
fn variables_are_declared_and_passed() {
    let m = manifest();
    let declared = table(&m, "variables");
    let apex = table(table(&m, "component"), "apex");
    let passed = table(apex, "variables");
    let mut needed: Vec<&str> = vec![CONFIG_VARIABLE, SINGLE_KEY_VARIABLE, LOG_VARIABLE];
    needed.extend(CATALOG.iter().map(|entry| entry.key_variable));
    for name in needed {
        assert!(declared.contains_key(name), "[variables] declares {name}");
        assert_eq!(
            passed.get(name).and_then(Value::as_str),
            Some(format!("{{{{ {name} }}}}").as_str()),
            "component gets {name}"
        );
    }
    for (name, value) in passed {
        let template = value.as_str().unwrap();
        let referenced = template
            .trim_start_matches("{{")
            .trim_end_matches("}}")
            .trim();
        assert!(
            declared.contains_key(referenced),
            "{name} refers to undeclared {referenced}"
        );
    }
    for (name, spec) in declared {
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "Spin variable names are lowercase: {name}"
        );
        let spec = spec.as_table().unwrap();
        let required = spec
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        assert!(
            required != spec.contains_key("default"),
            "{name}: either required or a default"
        );
        if name.ends_with("_key") {
            assert_eq!(
                spec.get("secret").and_then(Value::as_bool),
                Some(true),
                "{name} is secret"
            );
        }
    }
}

#[test]
fn state_and_network_permissions() {
    let m = manifest();
    let apex = table(table(&m, "component"), "apex");
    let stores: Vec<&str> = apex["key_value_stores"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        stores,
        vec!["default"],
        "the router opens the `default` store"
    );
    let hosts: Vec<&str> = apex["allowed_outbound_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for entry in CATALOG {
        let origin = apex_router::http::url::origin(entry.base_url).unwrap();
        let host = origin.trim_end_matches(":443");
        assert!(
            hosts.contains(&host),
            "allowed_outbound_hosts lets the router reach {host}"
        );
    }
}

/// What a Spin app sees through `variables::get`: declared and passed variables (their value, or
/// the manifest's default `""`); anything else is not there at all.
fn spin_variables(set: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m = manifest();
    let passed: Vec<String> = table(table(table(&m, "component"), "apex"), "variables")
        .keys()
        .cloned()
        .collect();
    let set: Vec<(String, String)> = set
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| {
        passed.iter().any(|p| p == name).then(|| {
            set.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
    }
}

#[test]
fn the_spin_config_names_only_variables_spin_passes() {
    let text = std::fs::read_to_string(root().join("apex.spin.toml")).expect("apex.spin.toml");
    let spin = spin_variables(&[
        ("apex_api_key", "gateway-key"),
        ("openai_api_key", "sk-openai"),
        ("anthropic_api_key", "sk-anthropic"),
    ]);
    let config =
        apex_router::config::load(Some(&text), &spin).expect("apex.spin.toml loads on Spin");
    assert_eq!(config.gateway_keys.len(), 1, "apex_api_key");
    assert_eq!(config.targets("smart").unwrap().len(), 2);
    assert_eq!(config.route_name("claude-3-7-sonnet-latest"), "smart");
    // Its aliases name OpenAI and Anthropic: without their keys it does not load, and says why.
    let bare = apex_router::config::load(Some(&text), &spin_variables(&[]))
        .err()
        .map(|e| e.to_string());
    assert!(
        bare.as_deref()
            .is_some_and(|e| e.contains("is not configured")),
        "{bare:?}"
    );

    // apex.example.toml names variables spin.toml does not declare: on Spin it cannot load
    // (every request would answer 500) until they are declared, as the README says.
    let example = std::fs::read_to_string(root().join("apex.example.toml")).unwrap();
    let error = apex_router::config::load(Some(&example), &spin)
        .err()
        .map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("apex_key_alice")),
        "{error:?}"
    );
}
