//! `$ref` inlining (local references, within the request's inlining budget) and `allOf` merging:
//! what turns a schema into one self-contained tree before its keywords are rewritten.

// BTreeSet, not HashSet: no random hash seed, so the adapter imports no capability.
use std::collections::BTreeSet;

use super::Cleaner;
use crate::json::{Json, Object};

impl<'a> Cleaner<'a> {
    /// The definition `reference` points at, if it is a local reference this cleaner resolves
    /// and the inlining budget covers its size.
    fn inline(&mut self, reference: &str) -> Option<&'a Json> {
        let target = self.resolve(reference)?;
        match self.budget.checked_sub(size(target)) {
            Some(left) if !self.over_budget => {
                self.budget = left;
                Some(target)
            }
            _ => {
                self.over_budget = true;
                None
            }
        }
    }

    /// The definition `reference` points at, if it is a local reference this cleaner resolves.
    fn resolve(&self, reference: &str) -> Option<&'a Json> {
        if reference == "#" {
            return Some(self.root);
        }
        let root = self.root.as_object()?;
        for prefix in ["#/$defs/", "#/definitions/"] {
            if let Some(name) = reference.strip_prefix(prefix) {
                // JSON pointer escapes; a name with a further `/` points deeper, which is not
                // resolved.
                if name.contains('/') {
                    return None;
                }
                let name = name.replace("~1", "/").replace("~0", "~");
                let defs = root.get(prefix.trim_start_matches("#/").trim_end_matches('/'))?;
                return defs.as_object()?.get(&name);
            }
        }
        None
    }

    /// The cleaned form of one schema.
    pub(super) fn node(&mut self, schema: &Json) -> Object {
        let Some(source) = schema.as_object() else {
            // `true`, `false` and non-schemas constrain nothing Gemini can express.
            return Object::new();
        };
        let mut source = source.clone();

        if let Some(reference) = source.remove("$ref") {
            let reference = reference.as_str().unwrap_or_default().to_string();
            if self.expanding.contains(&reference) {
                let mut out = Object::new();
                out.insert("type", Json::string("object"));
                if let Some(description) =
                    source.get("description").filter(|d| d.as_str().is_some())
                {
                    out.insert("description", description.clone());
                }
                return out;
            }
            if let Some(target) = self.inline(&reference) {
                // The definition, with the referring schema's own keywords on top.
                let mut merged = target.as_object().cloned().unwrap_or_default();
                for (key, value) in source.iter() {
                    merged.insert(key, value.clone());
                }
                self.expanding.push(reference);
                let out = self.node(&Json::Object(merged));
                self.expanding.pop();
                return out;
            }
        }

        if let Some(Json::Array(members)) = source.remove("allOf") {
            for member in &members {
                let member = match member
                    .as_object()
                    .and_then(|m| m.get("$ref"))
                    .and_then(Json::as_str)
                {
                    Some(reference) => self.inline(reference).cloned().unwrap_or(Json::Null),
                    None => member.clone(),
                };
                if let Some(member) = member.as_object() {
                    merge_into(&mut source, member);
                }
            }
        }

        self.keywords(&source)
    }
}

/// About the length of `json` as JSON text (what inlining it copies).
fn size(json: &Json) -> usize {
    match json {
        Json::Null | Json::Bool(_) | Json::Number(_) => 8,
        Json::String(text) => text.len() + 2,
        Json::Array(items) => items.iter().map(size).sum::<usize>() + 2,
        Json::Object(object) => {
            object
                .iter()
                .map(|(key, value)| key.len() + 4 + size(value))
                .sum::<usize>()
                + 2
        }
    }
}

/// Merge an `allOf` member into `target`: properties and `required` are united, other keywords
/// are taken when `target` lacks them.
fn merge_into(target: &mut Object, member: &Object) {
    for (key, value) in member.iter() {
        match (key, target.get(key), value) {
            ("properties", Some(Json::Object(mine)), Json::Object(theirs)) => {
                let mut merged = mine.clone();
                for (name, schema) in theirs.iter() {
                    if !merged.contains_key(name) {
                        merged.insert(name, schema.clone());
                    }
                }
                target.insert("properties", Json::Object(merged));
            }
            ("required", Some(Json::Array(mine)), Json::Array(theirs)) => {
                let mut merged = mine.clone();
                // Names only: anything else in `required` is dropped by `finish_keywords`.
                let mut seen: BTreeSet<&str> = mine.iter().filter_map(Json::as_str).collect();
                for name in theirs {
                    if let Some(text) = name.as_str()
                        && seen.insert(text)
                    {
                        merged.push(name.clone());
                    }
                }
                target.insert("required", Json::Array(merged));
            }
            (_, None, _) => target.insert(key, value.clone()),
            _ => {}
        }
    }
}
