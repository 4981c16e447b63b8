//! JSON schemas for tool arguments: schemars output with sub-schemas inlined, cleaned by the
//! one schema cleaner ([`crate::json_schema::StrictToolSchema`]: no `$schema` or `title`
//! keyword, no non-standard `format`, no `null` types, `additionalProperties: false` on every
//! object), and a root that is always an object with `properties`. Also [`parse_args`], which
//! quotes the schema back to the model when its arguments do not parse.
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::json_schema::clean_value;
use crate::tools::types::ArgsError;

/// The cleaned schema of an argument type.
pub fn schema_for<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .for_deserialize()
        .into_generator();
    let schema = generator.into_root_schema_for::<T>();
    let mut v = serde_json::to_value(&schema).unwrap_or(Value::Null);
    clean_value(&mut v);
    if let Value::Object(m) = &mut v {
        m.entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        m.entry("type")
            .or_insert_with(|| Value::String("object".into()));
        m.insert("additionalProperties".into(), Value::Bool(false));
    }
    v
}

/// Parse a call's arguments; the error tells the model what was expected.
pub fn parse_args<T: DeserializeOwned + JsonSchema>(
    tool: &str,
    args: &Value,
) -> Result<T, ArgsError> {
    serde_json::from_value(args.clone()).map_err(|e| ArgsError::Invalid {
        tool: tool.to_string(),
        reason: e.to_string(),
        expected: schema_for::<T>()["properties"].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doc for the test type.
    #[derive(JsonSchema, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct A {
        /// A count.
        n: Option<u32>,
        /// The mode.
        mode: Option<Mode>,
        name: String,
        /// A real property called `title`: the cleaner removes the keyword, never this.
        title: Option<String>,
    }

    #[derive(JsonSchema, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    enum Mode {
        Fast,
        Slow,
    }

    #[test]
    fn cleans_for_strict_servers() {
        let v = schema_for::<A>();
        let text = v.to_string();
        for banned in ["$schema", "uint32", "\"null\"", "$ref", "$defs"] {
            assert!(!text.contains(banned), "{banned} in {text}");
        }
        assert_eq!(v["additionalProperties"], false);
        assert_eq!(v["properties"]["n"]["type"], "integer");
        assert_eq!(
            v["properties"]["mode"]["enum"],
            serde_json::json!(["fast", "slow"])
        );
        assert_eq!(v["required"], serde_json::json!(["name"]));
        assert!(v.get("title").is_none(), "the keyword goes: {v}");
        assert!(v["properties"]["n"].get("title").is_none());
        assert_eq!(
            v["properties"]["title"]["type"], "string",
            "the property stays: {v}"
        );
    }
}
