//! The check that a Vertex AI base URL has exactly the shape the adapter appends to, built from
//! a project and a region that cannot move its host or path.

use apex_adapter_kit::invalid;
use apex_adapter_kit::types::{AdapterError, SettingProblem};

use super::service_account::ServiceAccount;

/// Vertex AI's API root for a project and region (`global` has no regional host).
pub fn base_url(project: &str, region: &str) -> String {
    let host = if region == "global" {
        "aiplatform.googleapis.com".to_string()
    } else {
        format!("{region}-aiplatform.googleapis.com")
    };
    format!("https://{host}/v1/projects/{project}/locations/{region}")
}

/// The base URL of a provider configured without one: from its `region` setting and its
/// `project` setting, or else the project its first service-account key names.
pub fn default_base_url(
    settings: &[(String, String)],
    credential: Option<&str>,
) -> Result<String, SettingProblem> {
    let setting = |name: &str| {
        settings
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let region = setting("region").ok_or_else(|| {
        SettingProblem::new("region", "is required (e.g. \"us-east5\" or \"global\")")
    })?;
    let project = setting("project")
        .or_else(|| {
            credential
                .and_then(|key| ServiceAccount::parse(key).ok())
                .and_then(|account| account.project_id)
        })
        .ok_or_else(|| SettingProblem::new("project", "is required (the key file names none)"))?;
    Ok(base_url(&project, &region))
}

/// Check that `base_url` is `{scheme}://{host}/{version}/projects/{PROJECT}/locations/{REGION}`
/// (one trailing `/` allowed): `http` or `https`, a host (and port) with no user info, a version
/// segment such as `v1` or `v1beta1`, a Google Cloud project id and a location name, and no
/// query, fragment or other segment. The router builds the host from the region as well
/// (`{REGION}-aiplatform.googleapis.com`): a region that passes here cannot have moved it, since
/// each character that could (`/`, `?`, `#`, `@`, `:`, `\`, `.`) is refused in the location.
pub fn check_base_url(base_url: &str) -> Result<(), AdapterError> {
    let config = |what: &str| {
        invalid(format!(
            "the Vertex AI target's base URL {what}; check the provider's `region` and \
             `project` (expected \
             `https://{{REGION}}-aiplatform.googleapis.com/v1/projects/{{PROJECT}}/locations/{{REGION}}`)"
        ))
    };
    let rest = ["https://", "http://"]
        .iter()
        .find_map(|scheme| {
            base_url
                .get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .map(|_| &base_url[scheme.len()..])
        })
        .ok_or_else(|| config("is not an http(s) URL"))?;
    let (authority, path) = rest
        .find('/')
        .map(|at| rest.split_at(at))
        .ok_or_else(|| config("has no path"))?;
    if !is_authority(authority) {
        return Err(config("has an unusable host"));
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let ["", version, "projects", project, "locations", region] = segments[..] else {
        return Err(config(
            "has a path other than `/v1/projects/{PROJECT}/locations/{REGION}`",
        ));
    };
    if !is_api_version(version) {
        return Err(config("has no API version such as `v1` before `/projects`"));
    }
    if !is_project(project) {
        return Err(config(
            "names no Google Cloud project id (lowercase letters, digits and `-`)",
        ));
    }
    if !is_label(region) {
        return Err(config(
            "names no location such as `us-east5` or `global` (lowercase letters, digits and `-`)",
        ));
    }
    Ok(())
}

/// `host` or `host:port`: letters, digits, `-` and `.` (or an IPv6 literal in brackets), no user
/// info.
fn is_authority(authority: &str) -> bool {
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !port.ends_with(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ip) => {
            !ip.is_empty()
                && ip
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        }
        None => {
            !host.is_empty()
                && host
                    .split('.')
                    .all(|label| is_label(&label.to_ascii_lowercase()))
        }
    };
    port_ok && host_ok
}

/// `v1`, `v1beta1`, `v2alpha`, ...
fn is_api_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0
        && rest[digits..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A DNS label: 1 to 63 lowercase letters, digits and `-`, no `-` first or last.
fn is_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// A Google Cloud project id (6 to 30 lowercase letters, digits and `-`, a letter first, no `-`
/// last), optionally scoped by a domain (`example.com:my-project`), or a project number.
fn is_project(project: &str) -> bool {
    let (domain, id) = match project.split_once(':') {
        Some((domain, id)) => (Some(domain), id),
        None => (None, project),
    };
    let domain_ok = domain.is_none_or(|d| d.split('.').all(is_label));
    let number =
        domain.is_none() && (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit());
    let id_ok = (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && is_label(id);
    domain_ok && (number || id_ok)
}
