//! What a target can do — call tools, follow a JSON schema, take images, think, embed — as its
//! kind's adapter describes it (`describe`), changed by `capabilities = { ... }` on the provider
//! and on a target; and what a request needs of its target. Routing sends a request only to
//! targets that can honour it (`routing::capable`).

use apex_adapter_kit::types::{ChatRequest, ContentPart, KindInfo, ResponseFormat, ToolResultPart};
use serde::Deserialize;

/// A feature a request can need of its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Tools,
    JsonSchema,
    Images,
    Embeddings,
}

impl Feature {
    /// As the config and error messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::JsonSchema => "json_schema",
            Self::Images => "images",
            Self::Embeddings => "embeddings",
        }
    }
}

/// What a target can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub tools: bool,
    pub json_schema: bool,
    pub images: bool,
    /// Advertised (model listings), not required: agent clients ask every model to think.
    pub thinking: bool,
    pub embeddings: bool,
}

impl Capabilities {
    /// What the kind's adapter says of its current models.
    pub fn of_kind(info: &KindInfo) -> Self {
        Self {
            tools: info.tools,
            json_schema: info.json_schema,
            images: info.vision,
            thinking: info.thinking,
            embeddings: info.embeddings,
        }
    }

    /// These, changed where `overrides` says.
    pub fn with(self, overrides: &CapabilityOverrides) -> Self {
        Self {
            tools: overrides.tools.unwrap_or(self.tools),
            json_schema: overrides.json_schema.unwrap_or(self.json_schema),
            images: overrides.images.unwrap_or(self.images),
            thinking: overrides.thinking.unwrap_or(self.thinking),
            embeddings: overrides.embeddings.unwrap_or(self.embeddings),
        }
    }

    pub fn supports(self, feature: Feature) -> bool {
        match feature {
            Feature::Tools => self.tools,
            Feature::JsonSchema => self.json_schema,
            Feature::Images => self.images,
            Feature::Embeddings => self.embeddings,
        }
    }
}

/// `capabilities = { images = false, ... }` on a provider or a target: what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityOverrides {
    pub tools: Option<bool>,
    pub json_schema: Option<bool>,
    pub images: Option<bool>,
    pub thinking: Option<bool>,
    pub embeddings: Option<bool>,
}

/// The features a chat request needs: tools when it declares any, a JSON schema when it asks
/// for one, images when any message (or tool result) carries one.
pub fn needed(request: &ChatRequest) -> Vec<Feature> {
    let mut needs = Vec::new();
    if !request.tools.is_empty() {
        needs.push(Feature::Tools);
    }
    if matches!(request.response_format, Some(ResponseFormat::JsonSchema(_))) {
        needs.push(Feature::JsonSchema);
    }
    let image = |part: &ContentPart| match part {
        ContentPart::Image(_) => true,
        ContentPart::ToolResult(result) => result
            .content
            .iter()
            .any(|p| matches!(p, ToolResultPart::Image(_))),
        _ => false,
    };
    if request
        .messages
        .iter()
        .any(|message| message.content.iter().any(image))
    {
        needs.push(Feature::Images);
    }
    needs
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::{Image, ImageSource, Message, Role};

    #[test]
    fn overrides_change_only_what_they_name() {
        let kind = Capabilities::of_kind(&KindInfo::plain());
        assert!(kind.tools && kind.json_schema && !kind.images && !kind.embeddings);
        let changed = kind.with(&CapabilityOverrides {
            images: Some(true),
            tools: Some(false),
            ..CapabilityOverrides::default()
        });
        assert!(changed.supports(Feature::Images));
        assert!(!changed.supports(Feature::Tools));
        assert!(changed.supports(Feature::JsonSchema));
    }

    #[test]
    fn a_request_needs_what_it_carries() {
        let mut request = ChatRequest::new(
            "m",
            vec![Message {
                role: Role::User,
                content: vec![ContentPart::Text("hi".into())],
                name: None,
            }],
        );
        assert!(needed(&request).is_empty());
        request.messages[0].content.push(ContentPart::Image(Image {
            source: ImageSource::Url("https://x/cat.png".into()),
            media_type: None,
            detail: None,
        }));
        assert_eq!(needed(&request), [Feature::Images]);
    }
}
