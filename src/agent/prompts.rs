//! The prompts: Markdown files in `prompts/`, compiled in, each overridable by a file of the
//! same name in `TAI_HOME/prompts/`. Templates use `{{name}}` placeholders.
use std::path::Path;

/// The prompt set one session uses.
#[derive(Debug, Clone)]
pub struct Prompts {
    pub system: String,
    pub first_turn: String,
    pub follow_up: String,
    pub final_step: String,
    pub repair: String,
}

const SYSTEM: &str = include_str!("../../prompts/system.md");
const FIRST_TURN: &str = include_str!("../../prompts/first_turn.md");
const FOLLOW_UP: &str = include_str!("../../prompts/follow_up.md");
const FINAL_STEP: &str = include_str!("../../prompts/final_step.md");
const REPAIR: &str = include_str!("../../prompts/repair.md");

impl Default for Prompts {
    fn default() -> Self {
        Prompts {
            system: SYSTEM.to_string(),
            first_turn: FIRST_TURN.to_string(),
            follow_up: FOLLOW_UP.to_string(),
            final_step: FINAL_STEP.to_string(),
            repair: REPAIR.to_string(),
        }
    }
}

impl Prompts {
    /// The compiled-in prompts, each replaced by `tai_home/prompts/<name>.md` when that exists.
    pub fn load(tai_home: &Path) -> Prompts {
        let dir = tai_home.join("prompts");
        let pick = |name: &str, default: &str| -> String {
            std::fs::read_to_string(dir.join(format!("{name}.md")))
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Prompts {
            system: pick("system", SYSTEM),
            first_turn: pick("first_turn", FIRST_TURN),
            follow_up: pick("follow_up", FOLLOW_UP),
            final_step: pick("final_step", FINAL_STEP),
            repair: pick("repair", REPAIR),
        }
    }
}

/// Fill `{{key}}` placeholders.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut s = template.to_string();
    for (k, v) in vars {
        s = s.replace(&format!("{{{{{k}}}}}"), v);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_fill() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("prompts")).unwrap();
        std::fs::write(dir.path().join("prompts/system.md"), "custom {{x}}").unwrap();
        let p = Prompts::load(dir.path());
        assert_eq!(fill(&p.system, &[("x", "y")]), "custom y");
        assert!(p.repair.contains("{{missing}}"));
        assert!(Prompts::default().system.contains("## Root Cause"));
    }
}
