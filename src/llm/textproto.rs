//! The text protocol for models without native tool calling (e.g. `gemma3`), and the tolerant
//! parser that reads a JSON tool call out of model text: bare, inside code fences, inside
//! `<tool_call>` tags, or surrounded by prose. The same parser rescues tool calls that
//! native-tool models put in `content` instead of `tool_calls`.
use serde_json::Value;

use super::ToolDef;

/// A tool call read out of model text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextCall {
    pub name: String,
    /// The arguments object; `{}` when none were given.
    pub args: Value,
    /// Set when arguments were present but not a JSON object (the model must fix them).
    pub invalid_args: Option<String>,
}

/// What the parser found in a piece of model text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    pub calls: Vec<TextCall>,
    /// Text that looked like a tool call but could not be read as JSON (cut off, bad quoting).
    pub malformed: Option<String>,
}

/// The system-prompt section that teaches the text protocol: the tools and the reply format.
pub fn render_tools(tools: &[ToolDef]) -> String {
    let mut s = String::from(
        "## Tools (text protocol)\n\nThis model has no native tool calling. To call tools, reply with ONLY a JSON \
         object in a ```json code block, and nothing else:\n\n```json\n{\"tool_calls\": [{\"name\": \"TOOL\", \
         \"arguments\": {...}}]}\n```\n\nSeveral calls in one reply run concurrently. Results come back in the \
         next user message, each labelled with its call id (T1, T2, ...). When you have enough evidence, reply \
         with the final report instead (no JSON).\n\nAvailable tools:\n",
    );
    for t in tools {
        s.push_str(&format!(
            "\n### {}\n{}\nArguments (JSON schema): {}\n",
            t.name,
            t.description,
            serde_json::to_string(&t.parameters).unwrap_or_else(|_| "{}".into())
        ));
    }
    s
}

/// Find every balanced `{...}` object in `text`, string-aware. Returns (start, end) byte ranges.
fn objects(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        let mut depth = 0usize;
        let mut in_str = false;
        let mut esc = false;
        let mut end = None;
        for (j, &b) in bytes.iter().enumerate().skip(i) {
            if in_str {
                if esc {
                    esc = false;
                } else if b == b'\\' {
                    esc = true;
                } else if b == b'"' {
                    in_str = false;
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        match end {
            Some(e) => {
                out.push((i, e));
                i = e;
            }
            None => break,
        }
    }
    out
}

fn name_of(obj: &serde_json::Map<String, Value>) -> Option<String> {
    for key in ["name", "tool", "tool_name", "function"] {
        match obj.get(key) {
            Some(Value::String(s)) if !s.is_empty() => return Some(s.clone()),
            Some(Value::Object(f)) => {
                if let Some(Value::String(s)) = f.get("name") {
                    return Some(s.clone());
                }
            }
            _ => {}
        }
    }
    None
}

fn args_of(obj: &serde_json::Map<String, Value>) -> (Value, Option<String>) {
    let raw = ["arguments", "args", "parameters", "input"]
        .iter()
        .find_map(|k| obj.get(*k))
        .or_else(|| match obj.get("function") {
            Some(Value::Object(f)) => f.get("arguments"),
            _ => None,
        });
    match raw {
        None | Some(Value::Null) => (Value::Object(Default::default()), None),
        Some(Value::Object(_)) => (raw.cloned().unwrap_or_default(), None),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => (v, None),
            _ => (Value::Object(Default::default()), Some(s.clone())),
        },
        Some(other) => (Value::Object(Default::default()), Some(other.to_string())),
    }
}

fn calls_in(v: &Value) -> Vec<TextCall> {
    let mut out = Vec::new();
    match v {
        Value::Array(items) => {
            for it in items {
                out.extend(calls_in(it));
            }
        }
        Value::Object(obj) => {
            if let Some(Value::Array(list)) = obj.get("tool_calls").or_else(|| obj.get("calls")) {
                for it in list {
                    out.extend(calls_in(it));
                }
            } else if let Some(name) = name_of(obj) {
                let (args, invalid_args) = args_of(obj);
                out.push(TextCall {
                    name,
                    args,
                    invalid_args,
                });
            }
        }
        _ => {}
    }
    out
}

/// Read tool calls out of `text`. Tolerates code fences, `<tool_call>` tags, prose around the
/// JSON and several objects in a row. `known` limits which names count as calls (rescue mode:
/// pass the registry's names); `None` accepts any name (text protocol: unknown names are
/// answered with an error the model can act on).
pub fn parse(text: &str, known: Option<&[String]>) -> Parsed {
    let mut parsed = Parsed::default();
    let accept = |c: &TextCall| known.is_none_or(|k| k.iter().any(|n| n == &c.name));
    // A JSON array of calls at the top level.
    let trimmed = strip_fence(text.trim());
    if trimmed.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
            parsed.calls = calls_in(&v).into_iter().filter(|c| accept(c)).collect();
            return parsed;
        }
    }
    let ranges = objects(text);
    let mut consumed_any = false;
    for (s, e) in &ranges {
        let slice = &text[*s..*e];
        match serde_json::from_str::<Value>(slice) {
            Ok(v) => {
                let calls: Vec<TextCall> = calls_in(&v).into_iter().filter(|c| accept(c)).collect();
                consumed_any |= !calls.is_empty();
                parsed.calls.extend(calls);
            }
            Err(_) => {
                if looks_like_call(slice) {
                    parsed.malformed.get_or_insert_with(|| slice.to_string());
                }
            }
        }
    }
    // An object that never closed (cut-off generation) after the last balanced one.
    if !consumed_any {
        let tail_start = ranges.last().map(|r| r.1).unwrap_or(0);
        if let Some(open) = text[tail_start..].find('{') {
            let rest = &text[tail_start + open..];
            if looks_like_call(rest) {
                parsed.malformed.get_or_insert_with(|| rest.to_string());
            }
        }
    }
    if !parsed.calls.is_empty() {
        parsed.malformed = None;
    }
    parsed
}

fn strip_fence(s: &str) -> &str {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("```") {
        let rest = rest.split_once('\n').map(|(_, r)| r).unwrap_or(rest);
        return rest.trim_end().strip_suffix("```").unwrap_or(rest).trim();
    }
    s
}

fn looks_like_call(s: &str) -> bool {
    (s.contains("\"name\"") || s.contains("\"tool\"") || s.contains("\"tool_calls\""))
        && (s.contains("\"arguments\"") || s.contains("\"args\"") || s.contains("\"tool_calls\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bare_and_fenced() {
        let p = parse(
            r#"{"name":"service_status","arguments":{"unit":"nginx"}}"#,
            None,
        );
        assert_eq!(p.calls.len(), 1);
        assert_eq!(p.calls[0].name, "service_status");
        assert_eq!(p.calls[0].args, json!({"unit":"nginx"}));
        let p = parse(
            "I will check the service first.\n```json\n{\"tool_calls\": [{\"name\": \"service_status\", \"arguments\": {\"unit\": \"nginx\"}}, {\"name\": \"disk_usage\", \"arguments\": {}}]}\n```\nThen logs.",
            None,
        );
        assert_eq!(p.calls.len(), 2);
        assert_eq!(p.calls[1].name, "disk_usage");
    }

    #[test]
    fn tags_strings_and_braces_in_strings() {
        let p = parse(
            "<tool_call>\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"/etc/nginx/{conf}.d\"}}\n</tool_call>",
            None,
        );
        assert_eq!(p.calls[0].args["path"], "/etc/nginx/{conf}.d");
        // Arguments as a JSON string (OpenAI style) are unwrapped.
        let p = parse(
            r#"{"function": {"name": "journal", "arguments": "{\"unit\": \"nginx\"}"}}"#,
            None,
        );
        assert_eq!(p.calls[0].name, "journal");
        assert_eq!(p.calls[0].args, json!({"unit":"nginx"}));
    }

    #[test]
    fn malformed_and_rescue_filter() {
        let p = parse(
            "```json\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"/var/log/nginx/error.log\"\n```",
            None,
        );
        assert!(p.calls.is_empty());
        assert!(p.malformed.is_some());
        let known = vec!["service_status".to_string()];
        let p = parse(
            "## Root Cause\nThe config {\"name\": \"x\", \"arguments\": {}} is odd",
            Some(&known),
        );
        assert!(p.calls.is_empty());
        let p = parse("No JSON here at all.", None);
        assert_eq!(p, Parsed::default());
        let p = parse(
            r#"{"name":"read_file","arguments":"path=/etc/hosts"}"#,
            None,
        );
        assert_eq!(p.calls[0].invalid_args.as_deref(), Some("path=/etc/hosts"));
    }
}
