//! A JSON value that is a string or an array: message content in every client protocol (`"hi"`
//! or `[{"type": "text", "text": "hi"}]`), the Responses API's `input`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// A string, or an array of `T`s. A surface keeps its own enum (whose variant names read well
/// where it is matched) and deserializes it through this one:
/// `#[serde(from = "TextOrList<Part>")]` with a `From` impl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextOrList<T> {
    Text(String),
    List(Vec<T>),
}

/// What the items of a [`TextOrList`] are called when a value is neither: "expected a string or
/// an array of {NAME}".
pub trait ListItem {
    const NAME: &'static str;
}

impl<'de, T: Deserialize<'de> + ListItem> Deserialize<'de> for TextOrList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextOrListVisitor(PhantomData))
    }
}

struct TextOrListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + ListItem> Visitor<'de> for TextOrListVisitor<T> {
    type Value = TextOrList<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a string or an array of {}", T::NAME)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(TextOrList::Text(text.to_string()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(TextOrList::Text(text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(TextOrList::List)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Item {
        n: u32,
    }

    impl ListItem for Item {
        const NAME: &'static str = "items";
    }

    fn parse(json: &str) -> Result<TextOrList<Item>, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn a_string_or_an_array_and_nothing_else() {
        assert_eq!(parse(r#""hi""#), Ok(TextOrList::Text("hi".into())));
        assert_eq!(parse(r#""a\"b""#), Ok(TextOrList::Text("a\"b".into())));
        assert_eq!(
            parse(r#"[{"n": 1}, {"n": 2}]"#),
            Ok(TextOrList::List(vec![Item { n: 1 }, Item { n: 2 }]))
        );
        assert_eq!(parse("[]"), Ok(TextOrList::List(Vec::new())));
        for bad in ["1", "null", "{}", "true"] {
            let error = parse(bad).unwrap_err();
            assert!(
                error.contains("expected a string or an array of items"),
                "{bad}: {error}"
            );
        }
        let error = parse(r#"[{"n": "one"}]"#).unwrap_err();
        assert!(error.contains("invalid type: string \"one\""), "{error}");
    }
}
