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

/// `tai://runbooks/nginx.md#Upstream%20timeouts` for a section: a valid URI, spaces and
/// other characters outside RFC 3986's fragment set percent-encoded.
pub fn runbook_uri(runbook: &str, heading: &str) -> String {
    format!(
        "{RUNBOOK_PREFIX}{}#{}",
        percent_encode(runbook),
        percent_encode(heading)
    )
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` decoded (invalid escapes kept as written), as UTF-8.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// Why a resource cannot be read; the server answers `resource_not_found` with this text.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(
        "unknown resource {0:?}: tai serves runbook sections as {RUNBOOK_PREFIX}<file>#<section>"
    )]
    NotARunbook(String),
    #[error("resource {0:?} names no section: add #<section heading>")]
    NoSection(String),
    #[error("no runbook section {file}#{heading}; resources/list shows the sections")]
    UnknownSection { file: String, heading: String },
    #[error(transparent)]
    Store(#[from] crate::knowledge::KnowledgeError),
}

/// The section a `tai://runbooks/...` URI names, percent-encoded or not.
pub fn read(knowledge: &Knowledge, uri: &str) -> Result<ReadResourceResult, ResourceError> {
    let rest = uri
        .strip_prefix(RUNBOOK_PREFIX)
        .ok_or_else(|| ResourceError::NotARunbook(uri.to_string()))?;
    let rest = percent_decode(rest);
    let (file, heading) = rest
        .split_once('#')
        .ok_or_else(|| ResourceError::NoSection(uri.to_string()))?;
    let sections = knowledge.sections()?;
    let section = sections
        .iter()
        .find(|c| c.runbook == file && c.heading == heading)
        .ok_or_else(|| ResourceError::UnknownSection {
            file: file.to_string(),
            heading: heading.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_uris_are_percent_encoded_and_decode_back() {
        let uri = runbook_uri("nginx.md", "Upstream timeouts (504) 100%");
        assert_eq!(
            uri,
            "tai://runbooks/nginx.md#Upstream%20timeouts%20(504)%20100%25"
        );
        let rest = uri.strip_prefix(RUNBOOK_PREFIX).unwrap();
        assert_eq!(
            percent_decode(rest),
            "nginx.md#Upstream timeouts (504) 100%"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%\u{e9}x"), "%\u{e9}x");
    }
}
