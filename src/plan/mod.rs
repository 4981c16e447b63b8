//! Issue categories and baseline plans: the classifier that maps issue text to a category, and
//! each category's tool calls (data in `tools/plans.toml`, compiled in), run concurrently by
//! `tai collect` and `/collect`.
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::tools::{execute_all, ExecContext, Registry, ToolCall, ToolError, ToolOutcome};

/// The compiled-in plans file.
pub const PLANS_TOML: &str = include_str!("../../tools/plans.toml");

/// What kind of problem an issue is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Service,
    Network,
    Dns,
    Disk,
    Memory,
    Kernel,
    Auth,
    Time,
    Tls,
    Performance,
    General,
}

impl Category {
    /// Every category, in classifier tie-break order.
    pub const ALL: [Category; 11] = [
        Category::Service,
        Category::Network,
        Category::Dns,
        Category::Disk,
        Category::Memory,
        Category::Kernel,
        Category::Auth,
        Category::Time,
        Category::Tls,
        Category::Performance,
        Category::General,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Service => "service",
            Category::Network => "network",
            Category::Dns => "dns",
            Category::Disk => "disk",
            Category::Memory => "memory",
            Category::Kernel => "kernel",
            Category::Auth => "auth",
            Category::Time => "time",
            Category::Tls => "tls",
            Category::Performance => "performance",
            Category::General => "general",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let want = s.trim().to_ascii_lowercase();
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == want)
            .ok_or_else(|| {
                format!(
                    "unknown category `{s}`; expected one of: {}",
                    Category::ALL.map(|c| c.as_str()).join(", ")
                )
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansFile {
    category: BTreeMap<String, CategoryPlan>,
}

/// One category's keywords and baseline calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryPlan {
    pub keywords: Vec<String>,
    pub calls: Vec<PlannedCall>,
}

/// A call in a baseline plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedCall {
    pub tool: String,
    #[serde(default)]
    pub args: Option<toml::Table>,
}

fn plans() -> &'static BTreeMap<String, CategoryPlan> {
    static PLANS: OnceLock<BTreeMap<String, CategoryPlan>> = OnceLock::new();
    PLANS.get_or_init(|| {
        // Compiled in and checked by tests (every category present, every call valid).
        let file: PlansFile = toml::from_str(PLANS_TOML)
            .unwrap_or_else(|e| panic!("tools/plans.toml does not parse: {e}"));
        file.category
    })
}

/// The plan of one category (keywords and calls).
pub fn plan_for(category: Category) -> Option<&'static CategoryPlan> {
    plans().get(category.as_str())
}

/// Does `text` (lower-case) contain `keyword` as a whole word or phrase? (The classifier's
/// word match; `fleet` reuses it to find the service an issue names.)
pub fn mentions(text: &str, keyword: &str) -> bool {
    let kw = keyword.to_ascii_lowercase();
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
    let mut from = 0usize;
    for _ in 0..text.len() + 1 {
        let Some(pos) = text[from..].find(&kw) else {
            return false;
        };
        let start = from + pos;
        let end = start + kw.len();
        if boundary(text[..start].chars().next_back()) && boundary(text[end..].chars().next()) {
            return true;
        }
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        if from >= text.len() {
            return false;
        }
    }
    false
}

/// Map issue text to a category: keyword score, phrases count double, ties go to the earlier
/// category in [`Category::ALL`], no match is `general`.
pub fn classify(issue: &str) -> Category {
    let text = issue.to_lowercase();
    let mut best = (0usize, Category::General);
    for cat in Category::ALL {
        let Some(plan) = plan_for(cat) else {
            continue;
        };
        let score: usize = plan
            .keywords
            .iter()
            .filter(|k| mentions(&text, k))
            .map(|k| if k.contains(' ') { 2 } else { 1 })
            .sum();
        if score > best.0 {
            best = (score, cat);
        }
    }
    best.1
}

/// The baseline calls of a category, with ids `T{n}` counting up from `next_id`.
pub fn baseline_calls(category: Category, next_id: &mut u32) -> Vec<ToolCall> {
    let Some(plan) = plan_for(category) else {
        return Vec::new();
    };
    plan.calls
        .iter()
        .map(|c| {
            let id = format!("T{next_id}");
            *next_id += 1;
            let args = c
                .args
                .as_ref()
                .and_then(|t| serde_json::to_value(t).ok())
                .unwrap_or_else(|| serde_json::json!({}));
            ToolCall {
                id,
                tool: c.tool.clone(),
                args,
            }
        })
        .collect()
}

/// Run a category's baseline plan concurrently. `Err` only when the transport failed fatally.
pub async fn collect(
    ctx: &ExecContext,
    registry: &Registry,
    category: Category,
    next_id: &mut u32,
) -> Result<Vec<ToolOutcome>, ToolError> {
    let calls = baseline_calls(category, next_id);
    execute_all(ctx, registry, &calls)
        .await
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_parse_and_display() {
        for c in Category::ALL {
            assert_eq!(c.to_string().parse::<Category>().unwrap(), c);
        }
        assert_eq!("DISK".parse::<Category>().unwrap(), Category::Disk);
        let err = "weather".parse::<Category>().unwrap_err();
        assert!(err.contains("disk") && err.contains("general"), "{err}");
    }

    #[test]
    fn classifies_issue_text() {
        let cases = [
            ("nginx returns 502 since the deploy", Category::Service),
            ("disk full on /var", Category::Disk),
            ("No space left on device when writing logs", Category::Disk),
            ("app killed by the OOM killer at night", Category::Memory),
            (
                "cannot resolve db01.internal: Temporary failure in name resolution",
                Category::Dns,
            ),
            ("certificate expired on the load balancer", Category::Tls),
            (
                "clock skew breaks kerberos, chrony not syncing",
                Category::Time,
            ),
            ("ssh login fails with permission denied", Category::Auth),
            (
                "kernel panic after the update, call trace in dmesg",
                Category::Kernel,
            ),
            (
                "server is slow and load average is 40",
                Category::Performance,
            ),
            (
                "connection refused to port 5432 from app servers",
                Category::Network,
            ),
            ("something is weird", Category::General),
            ("", Category::General),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text), want, "{text}");
        }
    }

    #[test]
    fn words_match_whole() {
        assert!(mentions("disk full on /var", "/var"));
        assert!(!mentions("variable", "var"));
        assert!(mentions("high cpu now", "cpu"));
        assert!(!mentions("keyboard", "key"));
    }

    #[test]
    fn every_category_has_a_plan_with_valid_calls() {
        let registry = Registry::builtin();
        let policy = crate::policy::Policy::load(false).unwrap();
        let facts = crate::tools::HostFacts {
            family: "debian".into(),
            ..Default::default()
        };
        let mut id = 1;
        for c in Category::ALL {
            let calls = baseline_calls(c, &mut id);
            assert!(!calls.is_empty(), "{c} has no calls");
            for call in calls {
                let tool = registry
                    .get(&call.tool)
                    .unwrap_or_else(|| panic!("{c}: unknown tool {}", call.tool));
                let steps = tool
                    .render(&call.args, &facts)
                    .unwrap_or_else(|e| panic!("{c}: {} {}: {e}", call.tool, call.args));
                for argv in steps.iter().flat_map(|s| s.all_argv()) {
                    assert!(
                        matches!(policy.check(argv), crate::policy::Decision::Allow { .. }),
                        "{c}: {argv:?} -> {:?}",
                        policy.check(argv)
                    );
                }
            }
        }
        assert!(id > 40, "ids count up across calls");
    }

    #[test]
    fn ids_are_sequential() {
        let mut id = 7;
        let calls = baseline_calls(Category::Disk, &mut id);
        assert_eq!(calls[0].id, "T7");
        assert_eq!(calls[1].id, "T8");
        assert_eq!(id, 7 + calls.len() as u32);
    }
}
