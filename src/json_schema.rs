//! The one cleaner for tool-argument JSON schemas: [`StrictToolSchema`], a schemars
//! [`Transform`] that makes a schema acceptable to strict OpenAI-compatible servers and easy
//! for small models. The tools layer applies it when it generates a schema
//! (`tools::schema::schema_for`), and the model client applies it again to whatever it is
//! handed (`llm`, through [`clean_value`]); it is idempotent. A leaf: imports nothing from
//! tai.
//!
//! It works on schema keywords only. Recursion goes through
//! [`schemars::transform::transform_subschemas`], which visits subschemas (`properties`
//! values, `items`, `anyOf` branches, ...) and never treats a property *name* as a keyword, so
//! a real property called `title`, `format` or `$schema` is kept.
use schemars::transform::{transform_subschemas, Transform};
use schemars::Schema;
use serde_json::{Map, Value};

/// `format` values from the JSON Schema specification; everything else (`uint32`, `int64`,
/// `double`, ...) is schemars-specific and removed.
pub const STANDARD_FORMATS: &[&str] = &[
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

/// Per schema object: no `$schema` or `title` keyword, no non-standard `format`, no `null`
/// in `type` or `enum`, `anyOf`/`oneOf` of one schema and `null` collapsed to that schema
/// (optional means "not required"), and `additionalProperties: false` on every object that
/// does not say otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct StrictToolSchema;

impl Transform for StrictToolSchema {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(m) = schema.as_object_mut() {
            collapse_nullable(m);
            clean_keywords(m);
        }
        transform_subschemas(self, schema);
    }
}

/// `anyOf: [X, {type: null}]` → X's keywords merged into this schema.
fn collapse_nullable(m: &mut Map<String, Value>) {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = m.get(key) else {
            continue;
        };
        let non_null: Vec<&Value> = branches
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if non_null.len() != 1 || non_null.len() == branches.len() {
            continue;
        }
        let inner = non_null[0].clone();
        m.remove(key);
        if let Value::Object(inner) = inner {
            for (k, v) in inner {
                m.entry(k).or_insert(v);
            }
        }
    }
}

fn clean_keywords(m: &mut Map<String, Value>) {
    m.remove("$schema");
    if matches!(m.get("title"), Some(Value::String(_))) {
        m.remove("title");
    }
    if let Some(Value::String(f)) = m.get("format") {
        if !STANDARD_FORMATS.contains(&f.as_str()) {
            m.remove("format");
        }
    }
    // `type: ["integer", "null"]` → `type: "integer"`.
    if let Some(Value::Array(types)) = m.get("type") {
        let mut non_null: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        let t = if non_null.len() == 1 {
            non_null.remove(0)
        } else {
            Value::Array(non_null)
        };
        m.insert("type".into(), t);
    }
    if let Some(Value::Array(values)) = m.get_mut("enum") {
        values.retain(|x| !x.is_null());
    }
    if m.get("type").and_then(Value::as_str) == Some("object") {
        m.entry("additionalProperties")
            .or_insert(Value::Bool(false));
    }
}

/// Apply [`StrictToolSchema`] to a schema held as JSON, then drop `$defs`/`definitions` when
/// nothing refers to them any more. Anything that is not a schema (not an object or a bool)
/// is left as it is.
pub fn clean_value(v: &mut Value) {
    let Ok(schema) = <&mut Schema>::try_from(&mut *v) else {
        return;
    };
    StrictToolSchema.transform(schema);
    if !has_ref(v) {
        if let Value::Object(m) = v {
            m.remove("$defs");
            m.remove("definitions");
        }
    }
}

fn has_ref(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, x)| k == "$ref" || has_ref(x)),
        Value::Array(a) => a.iter().any(has_ref),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cleans_keywords_and_keeps_properties_of_the_same_name() {
        let mut s = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "ReadFileArgs",
            "type": "object",
            "properties": {
                "path": {"type": "string", "title": "Path"},
                "title": {"type": "string", "description": "a real property"},
                "format": {"type": "string"},
                "$schema": {"type": "string"},
                "lines": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
                "when": {"type": "string", "format": "date-time"},
                "mode": {"anyOf": [{"type": "string", "enum": ["a", "b", null]}, {"type": "null"}]},
                "nested": {"type": "object", "properties": {"title": {"type": "integer", "format": "int64"}}}
            },
            "required": ["title"]
        });
        clean_value(&mut s);
        assert!(s.get("$schema").is_none());
        assert!(s.get("title").is_none());
        let p = &s["properties"];
        assert_eq!(p["title"]["description"], "a real property");
        assert!(p["format"].is_object() && p["$schema"].is_object());
        assert!(p["path"].get("title").is_none());
        assert_eq!(p["lines"]["type"], "integer");
        assert!(p["lines"].get("format").is_none());
        assert_eq!(p["lines"]["minimum"], 0);
        assert_eq!(p["when"]["format"], "date-time", "standard formats stay");
        assert_eq!(p["mode"]["type"], "string");
        assert_eq!(p["mode"]["enum"], json!(["a", "b"]));
        assert!(p["mode"].get("anyOf").is_none());
        assert_eq!(p["nested"]["properties"]["title"]["type"], "integer");
        assert!(p["nested"]["properties"]["title"].get("format").is_none());
        assert_eq!(p["nested"]["additionalProperties"], false);
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["required"], json!(["title"]));
    }

    #[test]
    fn is_idempotent_and_keeps_a_map_schema() {
        let mut s = json!({
            "type": "object",
            "properties": {"env": {"type": "object", "additionalProperties": {"type": "string"}}}
        });
        clean_value(&mut s);
        let once = s.clone();
        clean_value(&mut s);
        assert_eq!(s, once);
        assert_eq!(
            s["properties"]["env"]["additionalProperties"]["type"],
            "string"
        );
    }

    #[test]
    fn defs_go_only_when_nothing_refers_to_them() {
        let mut unused = json!({"type": "object", "$defs": {"O": {"type": "object"}}});
        clean_value(&mut unused);
        assert!(unused.get("$defs").is_none());
        let mut used = json!({
            "type": "object",
            "properties": {"o": {"$ref": "#/$defs/O"}},
            "$defs": {"O": {"title": "O", "type": "object", "properties": {"n": {"type": "integer", "format": "int64"}}}}
        });
        clean_value(&mut used);
        assert!(used["$defs"]["O"].get("title").is_none());
        assert!(used["$defs"]["O"]["properties"]["n"]
            .get("format")
            .is_none());
    }

    #[test]
    fn non_schemas_are_left_alone() {
        let mut v = json!("text");
        clean_value(&mut v);
        assert_eq!(v, json!("text"));
    }
}
