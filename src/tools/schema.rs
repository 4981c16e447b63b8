//! JSON schemas for tool arguments: schemars output cleaned so strict OpenAI-compatible
//! servers accept it: no `$schema`, no `title`, no non-standard `format`, no `null` types,
//! sub-schemas inlined, and `additionalProperties: false` on every object.
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// `format` values from the JSON Schema specification; everything else (`uint32`, `int64`,
/// `double`, ...) is schemars-specific and removed.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uuid",
];

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
    clean(&mut v);
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
pub fn parse_args<T: DeserializeOwned + JsonSchema>(tool: &str, args: &Value) -> Result<T, String> {
    serde_json::from_value(args.clone()).map_err(|e| {
        format!(
            "invalid arguments for `{tool}`: {e}. Expected a JSON object matching: {}",
            schema_for::<T>()["properties"]
        )
    })
}

/// Remove what strict servers reject, recursively.
pub fn clean(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("$schema");
            m.remove("title");
            m.remove("$defs");
            m.remove("definitions");
            if let Some(Value::String(f)) = m.get("format") {
                if !STANDARD_FORMATS.contains(&f.as_str()) {
                    m.remove("format");
                }
            }
            // `type: ["integer", "null"]` → `type: "integer"` (optional = not required).
            if let Some(Value::Array(types)) = m.get("type") {
                let non_null: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                let t = if non_null.len() == 1 {
                    non_null[0].clone()
                } else {
                    Value::Array(non_null)
                };
                m.insert("type".into(), t);
            }
            if let Some(Value::Array(values)) = m.get_mut("enum") {
                values.retain(|x| !x.is_null());
            }
            // `anyOf: [X, {type: null}]` → X.
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(branches)) = m.get(key) {
                    let non_null: Vec<Value> = branches
                        .iter()
                        .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                        .cloned()
                        .collect();
                    if non_null.len() == 1 {
                        m.remove(key);
                        if let Value::Object(inner) = &non_null[0] {
                            for (k, val) in inner {
                                m.entry(k.clone()).or_insert_with(|| val.clone());
                            }
                        }
                    }
                }
            }
            if m.get("type").and_then(Value::as_str) == Some("object") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (_, child) in m.iter_mut() {
                clean(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(clean),
        _ => {}
    }
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
        for banned in [
            "$schema",
            "\"title\"",
            "uint32",
            "\"null\"",
            "$ref",
            "$defs",
        ] {
            assert!(!text.contains(banned), "{banned} in {text}");
        }
        assert_eq!(v["additionalProperties"], false);
        assert_eq!(v["properties"]["n"]["type"], "integer");
        assert_eq!(
            v["properties"]["mode"]["enum"],
            serde_json::json!(["fast", "slow"])
        );
        assert_eq!(v["required"], serde_json::json!(["name"]));
    }
}
