//! Causality as data: the edges `cause -> effect` between finding kinds in `causes.toml`
//! (compiled in), checked when loaded, and the linking pass: when both ends of an edge fired,
//! the effect gets `caused_by` and the cause `consequences`, and the cause ranks as high as
//! its strongest effect, so the report's root cause is the upstream finding.
use std::sync::LazyLock;

use serde::Deserialize;

use super::{Finding, Link};

const CAUSES_TOML: &str = include_str!("causes.toml");

/// What is wrong with `causes.toml`.
#[derive(Debug, thiserror::Error)]
pub enum CausesError {
    #[error("src/triage/causes.toml does not parse: {0}; fix the TOML syntax or the field names (cause, effect, why, same, example)")]
    Parse(#[from] toml::de::Error),
    #[error("src/triage/causes.toml edge {index} ({cause} -> {effect}): {problem}")]
    Edge {
        index: usize,
        cause: String,
        effect: String,
        problem: String,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeToml {
    cause: OneOrMany,
    effect: OneOrMany,
    why: String,
    #[serde(default)]
    same: Option<String>,
    example: [String; 2],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    edge: Vec<EdgeToml>,
}

/// How the two ends of an edge must relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Same {
    /// Any finding of the cause kind explains any finding of the effect kind.
    Any,
    /// Equal subjects (units without `.service`, devices without `/dev/`).
    Subject,
    /// One's evidence names the other's subject.
    Mention,
}

/// One edge of `causes.toml`.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub cause: Vec<String>,
    pub effect: Vec<String>,
    pub why: String,
    pub same: Same,
    /// `[cause text, effect text]`: journal lines, or `$ COMMAND` and its output (run by a
    /// unit test).
    #[cfg_attr(not(test), allow(dead_code))]
    pub example: [String; 2],
}

fn valid_kind(k: &str) -> bool {
    let mut chars = k.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Parse and check edges: kinds well formed, no kind its own cause, a `why` and both example
/// texts present, `same` one of `subject`/`mention`.
pub(crate) fn load(text: &str) -> Result<Vec<Edge>, CausesError> {
    let file: FileToml = toml::from_str(text)?;
    let mut out = Vec::new();
    for (i, e) in file.edge.into_iter().enumerate() {
        let cause = e.cause.into_vec();
        let effect = e.effect.into_vec();
        let bad = |problem: String| CausesError::Edge {
            index: i + 1,
            cause: cause.join(","),
            effect: effect.join(","),
            problem,
        };
        if cause.is_empty() || effect.is_empty() {
            return Err(bad("cause and effect each need at least one kind".into()));
        }
        if let Some(k) = cause.iter().chain(&effect).find(|k| !valid_kind(k)) {
            return Err(bad(format!(
                "{k:?} is not a kind name (lower case, digits and _)"
            )));
        }
        if let Some(k) = cause.iter().find(|k| effect.contains(k)) {
            return Err(bad(format!("{k} cannot be its own cause")));
        }
        if e.why.trim().is_empty() {
            return Err(bad(
                "why is empty: say in one sentence how the cause leads to the effect".into(),
            ));
        }
        if e.example.iter().any(|x| x.trim().is_empty()) {
            return Err(bad(
                "example needs two non-empty texts [cause, effect]".into()
            ));
        }
        let same = match e.same.as_deref() {
            None => Same::Any,
            Some("subject") => Same::Subject,
            Some("mention") => Same::Mention,
            Some(other) => {
                return Err(bad(format!(
                    "same = {other:?}: use \"subject\" or \"mention\", or leave it out"
                )))
            }
        };
        out.push(Edge {
            cause,
            effect,
            why: e.why.trim().to_string(),
            same,
            example: e.example,
        });
    }
    Ok(out)
}

static EDGES: LazyLock<Result<Vec<Edge>, CausesError>> = LazyLock::new(|| load(CAUSES_TOML));

/// The compiled-in edges (none if `causes.toml` is broken; a unit test keeps it loading).
pub(crate) fn edges() -> &'static [Edge] {
    match &*EDGES {
        Ok(v) => v,
        Err(_) => &[],
    }
}

/// The compiled-in edges or why they do not load.
#[cfg(test)]
pub(crate) fn checked() -> Result<&'static [Edge], &'static CausesError> {
    EDGES.as_ref().map(Vec::as_slice)
}

fn norm(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_prefix("/dev/").unwrap_or(&s);
    let s = s.strip_suffix(".service").unwrap_or(s);
    let s = if s.len() > 1 {
        s.trim_end_matches('/')
    } else {
        s
    };
    s.to_string()
}

/// Whether `text` names `word` as a whole word (not inside a longer name).
fn names(text: &str, word: &str) -> bool {
    if word.len() < 2 {
        return false;
    }
    let text = text.to_ascii_lowercase();
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_name) && !after.is_some_and(is_name)
    })
}

fn related(same: Same, cause: &Finding, effect: &Finding) -> bool {
    match same {
        Same::Any => true,
        Same::Subject => norm(&cause.subject) == norm(&effect.subject),
        Same::Mention => {
            let (cs, es) = (norm(&cause.subject), norm(&effect.subject));
            let lines = |f: &Finding| {
                f.evidence
                    .iter()
                    .chain(f.supporting.iter().map(|s| &s.line))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            names(&lines(effect), &cs) || names(&lines(cause), &es)
        }
    }
}

/// Link every effect to the strongest cause that explains it (see the module doc). History
/// (an old or recovered finding) cannot explain a current one.
pub(crate) fn link(findings: &mut [Finding]) {
    link_with(edges(), findings);
}

pub(crate) fn link_with(edges: &[Edge], findings: &mut [Finding]) {
    let n = findings.len();
    for j in 0..n {
        let mut best: Option<(usize, &Edge)> = None;
        for e in edges {
            if !e.effect.contains(&findings[j].kind) {
                continue;
            }
            for i in 0..n {
                let (c, f) = (&findings[i], &findings[j]);
                if i == j || !e.cause.contains(&c.kind) || (f.current && !c.current) {
                    continue;
                }
                // No two-way links.
                if c.caused_by
                    .as_ref()
                    .is_some_and(|l| l.kind == f.kind && l.subject == f.subject)
                {
                    continue;
                }
                if !related(e.same, c, f) {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((b, _)) => {
                        let b = &findings[b];
                        (c.current, c.severity, c.rank) > (b.current, b.severity, b.rank)
                    }
                };
                if better {
                    best = Some((i, e));
                }
            }
        }
        let Some((i, e)) = best else { continue };
        let effect_sev = findings[j].severity;
        let cause_link = Link {
            kind: findings[i].kind.clone(),
            subject: findings[i].subject.clone(),
            why: e.why.clone(),
        };
        let effect_link = Link {
            kind: findings[j].kind.clone(),
            subject: findings[j].subject.clone(),
            why: e.why.clone(),
        };
        findings[j].caused_by = Some(cause_link);
        let c = &mut findings[i];
        if !c.consequences.contains(&effect_link) {
            c.consequences.push(effect_link);
        }
        if c.current && effect_sev > c.severity {
            c.severity = effect_sev;
        }
    }
}
