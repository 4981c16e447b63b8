//! Budgets: the per-call cap on what the model sees (head and tail kept, with advice to
//! narrow), token estimates, and the canonical key the repeat guard compares calls by.
use serde_json::Value;

/// Rough token estimate for text: about four characters per token for English and logs.
pub fn estimate_tokens(s: &str) -> u64 {
    (s.chars().count() as u64).div_ceil(4)
}

/// Keep the head and the tail of `s` within `max_chars`, saying what was dropped and how to
/// ask for less. Cuts on line boundaries where possible.
pub fn cap_for_model(s: &str, max_chars: usize) -> String {
    let total = s.chars().count();
    if total <= max_chars {
        return s.to_string();
    }
    let head_len = max_chars * 2 / 3;
    let tail_len = max_chars - head_len;
    let head: String = s.chars().take(head_len).collect();
    let head = match head.rfind('\n') {
        Some(i) if i > head_len / 2 => head[..i].to_string(),
        _ => head,
    };
    let tail: String = s.chars().skip(total - tail_len).collect();
    let tail = match tail.find('\n') {
        Some(i) if i < tail_len / 2 => tail[i + 1..].to_string(),
        _ => tail,
    };
    let dropped = total - head.chars().count() - tail.chars().count();
    format!(
        "{head}\n[... {dropped} characters omitted by tai (output capped at {max_chars}). Narrow the query to see them: a specific unit, a `since` time window, a `grep` pattern, fewer `lines`, or a deeper path ...]\n{tail}"
    )
}

/// Sort object keys recursively so `{"a":1,"b":2}` and `{"b":2,"a":1}` compare equal.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The repeat guard's key: tool name and canonical arguments.
pub fn call_key(tool: &str, args: &Value) -> String {
    format!("{tool} {}", canonical(args))
}

/// `unit=nginx lines=50`, at most `max` characters: for progress lines.
pub fn short_args(args: &Value, max: usize) -> String {
    let s = match args {
        Value::Object(m) if m.is_empty() => String::new(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let v: String = if v.chars().count() > 40 {
                    format!("{}…", v.chars().take(39).collect::<String>())
                } else {
                    v
                };
                format!("{k}={v}")
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    let s = s.replace(['\n', '\r'], " ");
    if s.chars().count() > max {
        format!(
            "{}…",
            s.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn caps_head_and_tail_with_advice() {
        let text: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        let capped = cap_for_model(&text, 1000);
        assert!(capped.starts_with("line 0\n"));
        assert!(capped.trim_end().ends_with("line 1999"));
        assert!(capped.contains("characters omitted by tai"));
        assert!(capped.contains("Narrow the query"));
        assert!(capped.chars().count() < 1300);
        assert_eq!(cap_for_model("short", 100), "short");
    }

    #[test]
    fn keys_and_args() {
        assert_eq!(
            call_key("t", &json!({"b": 1, "a": {"y": 2, "x": 1}})),
            call_key("t", &json!({"a": {"x": 1, "y": 2}, "b": 1}))
        );
        assert_ne!(
            call_key("t", &json!({"a": 1})),
            call_key("u", &json!({"a": 1}))
        );
        assert_eq!(
            short_args(&json!({"unit": "nginx", "lines": 50}), 80),
            "unit=nginx lines=50"
        );
        assert_eq!(estimate_tokens("abcdefgh"), 2);
    }
}
