//! MCP resources and prompts: every indexed runbook section as
//! `tai://runbooks/<file>#<section>` (Markdown), and the `investigate` prompt that walks a
//! client's model through a guided, read-only investigation with tai's tools.
use rmcp::model::{
    GetPromptResult, Prompt, PromptArgument, PromptMessage, ReadResourceResult, Resource,
    ResourceContents, Role,
};

use crate::knowledge::Knowledge;

/// The URI scheme and prefix of runbook sections.
pub const RUNBOOK_PREFIX: &str = "tai://runbooks/";

/// `tai://runbooks/nginx.md#Upstream timeouts` for a section.
pub fn runbook_uri(runbook: &str, heading: &str) -> String {
    format!("{RUNBOOK_PREFIX}{runbook}#{heading}")
}

/// Every runbook section in the store, ordered by runbook and heading.
pub fn list(knowledge: &Knowledge) -> Result<Vec<Resource>, String> {
    let mut sections = knowledge.sections().map_err(|e| e.to_string())?;
    sections.sort_by(|a, b| (&a.runbook, a.id).cmp(&(&b.runbook, b.id)));
    Ok(sections
        .into_iter()
        .map(|c| {
            Resource::new(runbook_uri(&c.runbook, &c.heading), c.citation())
                .with_description(format!("{} runbook section ({})", c.service, c.runbook))
                .with_mime_type("text/markdown")
        })
        .collect())
}

/// The section a `tai://runbooks/...` URI names. Percent-encoded spaces (`%20`) are accepted.
pub fn read(knowledge: &Knowledge, uri: &str) -> Result<ReadResourceResult, String> {
    let rest = uri.strip_prefix(RUNBOOK_PREFIX).ok_or_else(|| {
        format!("unknown resource {uri:?}: tai serves runbook sections as {RUNBOOK_PREFIX}<file>#<section>")
    })?;
    let rest = rest.replace("%20", " ");
    let (file, heading) = rest
        .split_once('#')
        .ok_or_else(|| format!("resource {uri:?} names no section: add #<section heading>"))?;
    let sections = knowledge.sections().map_err(|e| e.to_string())?;
    let section = sections
        .iter()
        .find(|c| c.runbook == file && c.heading == heading)
        .ok_or_else(|| {
            format!("no runbook section {file}#{heading}; resources/list shows the sections")
        })?;
    let text = format!("## {}\n\n{}", section.heading, section.body);
    Ok(ReadResourceResult::new(vec![
        ResourceContents::TextResourceContents {
            uri: uri.to_string(),
            mime_type: Some("text/markdown".into()),
            text,
            meta: None,
        },
    ]))
}

/// The prompts tai serves.
pub fn prompts() -> Vec<Prompt> {
    vec![Prompt::new(
        "investigate",
        Some("A guided, read-only investigation of an issue on one host with tai's tools"),
        Some(vec![
            PromptArgument::new("host")
                .with_description("Host to investigate (one of tai's allowed hosts)")
                .with_required(true),
            PromptArgument::new("issue")
                .with_description("What is wrong, in words")
                .with_required(true),
        ]),
    )]
}

/// The `investigate` prompt for `host` and `issue`.
pub fn investigate(host: &str, issue: &str) -> GetPromptResult {
    let text = format!(
        "Investigate this issue on host `{host}`: {issue}\n\n\
         Use tai's read-only tools, always with `host: \"{host}\"`:\n\
         1. Call `triage` with the issue first: it runs the baseline plan and tai's detectors \
            and returns findings, root cause first.\n\
         2. Check what the findings point at with the specific tools (`read_journal`, \
            `service_status`, `read_file`, `list_sockets`, `disk_usage`, ...). Each call's \
            output is capped and redacted; a denied call explains why and what to use instead.\n\
         3. Search `search_runbooks` for the symptom and `search_history` for past incidents.\n\
         4. Answer with: Root cause (one sentence), Evidence (the lines, with the tool that \
            printed them), Actions (commands for a human; tai never changes the host), and your \
            confidence.\n\
         Do not guess beyond the evidence; if something cannot be checked, say so."
    );
    GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
        .with_description(format!("Investigate `{issue}` on {host}"))
}
