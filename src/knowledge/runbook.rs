//! Runbooks: Markdown files with YAML frontmatter (`service`, `symptoms`, `tags`), chunked by
//! section (CommonMark headings, via pulldown-cmark). The bundled library is compiled in so
//! search works on a fresh install.
use serde::{Deserialize, Serialize};

/// What is wrong with a runbook file, said so its author can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunbookError {
    #[error("missing YAML frontmatter: the file must start with `---`, then `service:`, `symptoms:`, `tags:`, then `---`")]
    MissingFrontmatter,
    #[error("unterminated YAML frontmatter: no closing `---` line")]
    UnterminatedFrontmatter,
    #[error("frontmatter line {line}: {reason}")]
    Frontmatter { line: usize, reason: String },
    #[error("frontmatter has no `service:`")]
    NoService,
    #[error("line {line}: empty heading")]
    EmptyHeading { line: usize },
    #[error("no content: a runbook needs at least one `## Section` with text")]
    NoContent,
}

/// The frontmatter every runbook carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontmatter {
    pub service: String,
    pub symptoms: Vec<String>,
    pub tags: Vec<String>,
}

/// One section of a runbook: the unit of retrieval and citation (`nginx.md#Upstream timeouts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub heading: String,
    pub body: String,
}

/// A parsed runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runbook {
    /// File name, e.g. `nginx.md`; the first half of every citation.
    pub name: String,
    pub title: String,
    pub front: Frontmatter,
    pub sections: Vec<Section>,
}

impl Runbook {
    /// The text indexed for one section: title, heading, service and tags give every chunk
    /// its context; the symptoms list goes with the first section.
    pub fn index_text(&self, i: usize) -> String {
        let s = &self.sections[i];
        // The heading appears twice: a field boost, since headings name the problem a
        // section solves.
        let mut t = format!(
            "{} — {}\n{}\nservice: {} tags: {}\n",
            self.title,
            s.heading,
            s.heading,
            self.front.service,
            self.front.tags.join(", ")
        );
        if i == 0 && !self.front.symptoms.is_empty() {
            t.push_str("symptoms: ");
            t.push_str(&self.front.symptoms.join("; "));
            t.push('\n');
        }
        t.push_str(&s.body);
        t
    }

    pub fn citation(&self, i: usize) -> String {
        format!("{}#{}", self.name, self.sections[i].heading)
    }
}

/// The runbooks shipped with tai.
pub const BUNDLED: &[(&str, &str)] = &[
    ("ssh.md", include_str!("../../runbooks/ssh.md")),
    ("nginx.md", include_str!("../../runbooks/nginx.md")),
    ("apache.md", include_str!("../../runbooks/apache.md")),
    ("postgres.md", include_str!("../../runbooks/postgres.md")),
    ("mysql.md", include_str!("../../runbooks/mysql.md")),
    ("disk-full.md", include_str!("../../runbooks/disk-full.md")),
    ("inodes.md", include_str!("../../runbooks/inodes.md")),
    (
        "memory-oom.md",
        include_str!("../../runbooks/memory-oom.md"),
    ),
    (
        "systemd-unit-failures.md",
        include_str!("../../runbooks/systemd-unit-failures.md"),
    ),
    ("dns.md", include_str!("../../runbooks/dns.md")),
    ("time-sync.md", include_str!("../../runbooks/time-sync.md")),
    (
        "tls-certificates.md",
        include_str!("../../runbooks/tls-certificates.md"),
    ),
    (
        "network-connectivity.md",
        include_str!("../../runbooks/network-connectivity.md"),
    ),
    (
        "kernel-panics-and-hardware.md",
        include_str!("../../runbooks/kernel-panics-and-hardware.md"),
    ),
    ("high-load.md", include_str!("../../runbooks/high-load.md")),
];

/// Parse a runbook. Errors name the line so the author can fix the file.
///
/// Sections are found by a CommonMark parser (pulldown-cmark): `##`/`###` and setext (`---`
/// underlined) headings at the top level split sections; a `#` line inside a fenced or indented
/// code block, a list or a quote does not. The first level-1 heading is the title. Section
/// bodies are the Markdown source as written.
pub fn parse(name: &str, text: &str) -> Result<Runbook, RunbookError> {
    let text = text.replace("\r\n", "\n");
    let (front, body, body_line) = split_frontmatter(&text)?;
    let front = parse_frontmatter(front)?;
    let mut title = String::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut cur: Option<Section> = None;
    let mut preamble = String::new();
    let mut pos = 0;
    for h in headings(body) {
        let split = (2..=3).contains(&h.level);
        let is_title = h.level == 1 && title.is_empty();
        if !split && !is_title {
            continue;
        }
        let before = &body[pos..h.start];
        match cur.as_mut() {
            Some(s) => s.body.push_str(before),
            None => preamble.push_str(before),
        }
        pos = h.end;
        if is_title {
            title = h.text;
            continue;
        }
        if let Some(s) = cur.take() {
            sections.push(s);
        }
        if h.text.is_empty() {
            let line = body_line + body[..h.start].matches('\n').count();
            return Err(RunbookError::EmptyHeading { line });
        }
        cur = Some(Section {
            heading: h.text,
            body: String::new(),
        });
    }
    match cur.as_mut() {
        Some(s) => s.body.push_str(&body[pos..]),
        None => preamble.push_str(&body[pos..]),
    }
    if let Some(s) = cur.take() {
        sections.push(s);
    }
    if title.is_empty() {
        title = name.trim_end_matches(".md").to_string();
    }
    if !preamble.trim().is_empty() {
        sections.insert(
            0,
            Section {
                heading: "Overview".into(),
                body: preamble,
            },
        );
    }
    for s in &mut sections {
        s.body = s.body.trim().to_string();
    }
    sections.retain(|s| !s.body.is_empty());
    if sections.is_empty() {
        return Err(RunbookError::NoContent);
    }
    Ok(Runbook {
        name: name.to_string(),
        title,
        front,
        sections,
    })
}

/// A top-level heading: its level, its text as written (inline code keeps its backticks, so
/// citations read like the source) and the byte range of its lines.
struct Heading {
    level: usize,
    text: String,
    start: usize,
    end: usize,
}

/// The top-level headings of a Markdown text, ATX and setext, in order.
fn headings(body: &str) -> Vec<Heading> {
    use pulldown_cmark::{Event, Parser, Tag};
    let mut out = Vec::new();
    let mut depth = 0usize;
    for (ev, range) in Parser::new(body).into_offset_iter() {
        match ev {
            Event::Start(Tag::Heading { level, .. }) if depth == 0 => {
                let raw = &body[range.clone()];
                out.push(Heading {
                    level: level as usize,
                    text: heading_text(raw),
                    start: range.start,
                    end: range.end,
                });
                depth += 1;
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    out
}

/// The text of a heading from its source: `## Foo ##` → `Foo`; a setext heading's lines
/// without the underline, joined by spaces.
fn heading_text(raw: &str) -> String {
    let t = raw.trim_start();
    if t.starts_with('#') {
        let line = t.lines().next().unwrap_or("");
        let rest = line.trim_start_matches('#');
        let rest = rest.trim_end();
        // A closing sequence is `#`s preceded by a space (or the whole rest).
        let stripped = rest.trim_end_matches('#');
        let rest = if stripped.is_empty() || stripped.ends_with([' ', '\t']) {
            stripped
        } else {
            rest
        };
        return rest.trim().to_string();
    }
    let lines: Vec<&str> = raw.trim_end().lines().collect();
    let text_lines = &lines[..lines.len().saturating_sub(1)];
    text_lines
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `(frontmatter, body, first body line number)`.
fn split_frontmatter(text: &str) -> Result<(&str, &str, usize), RunbookError> {
    let Some(rest) = text.strip_prefix("---\n") else {
        return Err(RunbookError::MissingFrontmatter);
    };
    let mut offset = 0;
    for (n, line) in rest.split_inclusive('\n').enumerate() {
        if line.trim_end() == "---" {
            let front = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Ok((front, body, n + 3));
        }
        offset += line.len();
    }
    Err(RunbookError::UnterminatedFrontmatter)
}

/// The frontmatter subset runbooks use: `key: scalar`, `key: [a, b]` and block lists
/// (`key:` then `  - item`). Unknown keys are allowed and ignored.
fn parse_frontmatter(text: &str) -> Result<Frontmatter, RunbookError> {
    let mut f = Frontmatter::default();
    let mut list_key: Option<String> = None;
    let mut seen_service = false;
    for (n, raw) in text.lines().enumerate() {
        let lineno = n + 2;
        let line = strip_comment(raw);
        if line.trim().is_empty() {
            continue;
        }
        let t = line.trim_start();
        if let Some(item) = t.strip_prefix("- ").or_else(|| (t == "-").then_some("")) {
            let Some(key) = &list_key else {
                return Err(RunbookError::Frontmatter {
                    line: lineno,
                    reason: "list item without a key".into(),
                });
            };
            push_list(&mut f, key, unquote(item.trim()));
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            return Err(RunbookError::Frontmatter {
                line: lineno,
                reason: format!("unexpected indentation in {raw:?}"),
            });
        }
        let Some((key, value)) = t.split_once(':') else {
            return Err(RunbookError::Frontmatter {
                line: lineno,
                reason: format!("expected `key: value`, found {raw:?}"),
            });
        };
        let key = key.trim().to_string();
        let value = value.trim();
        list_key = None;
        if value.is_empty() {
            list_key = Some(key);
            continue;
        }
        if let Some(inner) = value.strip_prefix('[') {
            let Some(inner) = inner.strip_suffix(']') else {
                return Err(RunbookError::Frontmatter {
                    line: lineno,
                    reason: format!("`{key}` list is missing its closing `]`"),
                });
            };
            for item in split_flow(inner) {
                push_list(&mut f, &key, item);
            }
            continue;
        }
        match key.as_str() {
            "service" => {
                f.service = unquote(value);
                seen_service = true;
            }
            "symptoms" | "tags" => push_list(&mut f, &key, unquote(value)),
            _ => {}
        }
    }
    if !seen_service || f.service.is_empty() {
        return Err(RunbookError::NoService);
    }
    Ok(f)
}

fn push_list(f: &mut Frontmatter, key: &str, item: String) {
    if item.is_empty() {
        return;
    }
    match key {
        "symptoms" => f.symptoms.push(item),
        "tags" => f.tags.push(item),
        "service" => f.service = item,
        _ => {}
    }
}

fn strip_comment(line: &str) -> &str {
    // A `#` starts a comment only at the line start or after whitespace, outside quotes.
    let mut quote: Option<char> = None;
    let mut prev_ws = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev_ws => return &line[..i],
            None => {}
        }
        prev_ws = c.is_whitespace();
    }
    line
}

fn split_flow(inner: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in inner.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                cur.push(c);
            }
            None if c == ',' => items.push(unquote(cur.trim())),
            None => cur.push(c),
        }
        if c == ',' && quote.is_none() {
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        items.push(unquote(cur.trim()));
    }
    items.retain(|s| !s.is_empty());
    items
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s[1..s.len() - 1].to_string();
        }
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "---\nservice: nginx\nsymptoms:\n  - \"502 Bad Gateway\"\n  - slow responses # comment\ntags: [web, proxy, \"http, https\"]\n---\n# Nginx\n\nIntro text.\n\n## Upstream timeouts\n\nCheck `read_journal`.\n\n```\n# not a heading\n```\n\n### Details\nMore.\n";

    #[test]
    fn parses_frontmatter_and_sections() {
        let r = parse("nginx.md", SAMPLE).unwrap();
        assert_eq!(r.front.service, "nginx");
        assert_eq!(r.front.symptoms, vec!["502 Bad Gateway", "slow responses"]);
        assert_eq!(r.front.tags, vec!["web", "proxy", "http, https"]);
        assert_eq!(r.title, "Nginx");
        let heads: Vec<_> = r.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(heads, vec!["Overview", "Upstream timeouts", "Details"]);
        assert!(r.sections[1].body.contains("# not a heading"));
        assert_eq!(r.citation(1), "nginx.md#Upstream timeouts");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(parse("x.md", "# no frontmatter\n")
            .unwrap_err()
            .to_string()
            .contains("frontmatter"));
        assert!(parse("x.md", "---\nservice: x\n")
            .unwrap_err()
            .to_string()
            .contains("closing"));
        assert!(parse("x.md", "---\ntags: [a]\n---\n## A\ntext\n")
            .unwrap_err()
            .to_string()
            .contains("service"));
        assert!(parse("x.md", "---\nservice: x\ntags: [a\n---\n## A\nt\n")
            .unwrap_err()
            .to_string()
            .contains("line 3"));
    }

    #[test]
    fn every_bundled_runbook_parses_with_sections() {
        assert!(BUNDLED.len() >= 15);
        for (name, text) in BUNDLED {
            let r = parse(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!r.front.symptoms.is_empty(), "{name} has no symptoms");
            assert!(!r.front.tags.is_empty(), "{name} has no tags");
            assert!(r.sections.len() >= 4, "{name} has too few sections");
        }
    }

    #[test]
    fn hash_lines_in_any_code_block_are_not_headings() {
        // A ``` line inside a ~~~ fence, and a ```` fence quoting a ``` block: a line-based
        // toggle loses track in both and splits on the `#` comments.
        let text = "---\nservice: x\ntags: [a]\n---\n# T\n\n## Config\n\n~~~\n```\n# comment in the example\n~~~\n\n## Real section\n\nafter.\n\n## Quoting\n\n````markdown\n```sh\n## not a section\n```\n````\n\n    # indented code\n\n- a list\n\n  ## in a list item\n";
        let r = parse("x.md", text).unwrap();
        let heads: Vec<_> = r.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(heads, vec!["Config", "Real section", "Quoting"]);
        assert!(r.sections[0].body.contains("# comment in the example"));
        assert!(r.sections[2].body.contains("## not a section"));
        assert!(r.sections[2].body.contains("# indented code"));
        assert!(r.sections[2].body.contains("## in a list item"));
    }

    #[test]
    fn setext_headings_split_sections() {
        let text = "---\nservice: x\ntags: [a]\n---\nRunbook title\n=============\n\nIntro.\n\nRestart loops\n-------------\n\nRead `journalctl -u app`.\n\n## The `ss` output ##\n\nListeners.\n";
        let r = parse("x.md", text).unwrap();
        assert_eq!(r.title, "Runbook title");
        let heads: Vec<_> = r.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(heads, vec!["Overview", "Restart loops", "The `ss` output"]);
        assert_eq!(r.sections[0].body, "Intro.");
        assert_eq!(r.sections[1].body, "Read `journalctl -u app`.");
        assert!(!r.sections[1].body.contains("---"));
    }

    #[test]
    fn empty_heading_names_its_line() {
        let text = "---\nservice: x\ntags: [a]\n---\n## A\ntext\n\n##\nmore\n";
        let err = parse("x.md", text).unwrap_err();
        assert_eq!(err, RunbookError::EmptyHeading { line: 8 });
        assert_eq!(err.to_string(), "line 8: empty heading");
    }
}
