//! `tai history [QUERY] [--host H] [--export FILE]`: past sessions from the store.
use std::io::Write;

use anyhow::{Context, Result};

use super::args::HistoryArgs;
use crate::config::Config;
use crate::exit::Code;
use crate::knowledge::{format_time, score_line, Knowledge, SessionHit};
use crate::render::Palette;

pub async fn run(config: &Config, args: HistoryArgs) -> Result<Code> {
    let k = Knowledge::open(config)?;
    let query = args.query.join(" ");
    let limit = args.limit.max(1);
    let hits = if query.trim().is_empty() {
        k.recent_sessions(args.host.as_deref(), limit)?
    } else {
        k.search_sessions(&query, args.host.as_deref(), limit)
            .await?
    };
    if let Some(file) = &args.export {
        std::fs::write(file, export_markdown(&hits, &query))
            .with_context(|| format!("cannot write the export to {}", file.display()))?;
        eprintln!("wrote {} sessions to {}", hits.len(), file.display());
    }
    let mut out = std::io::stdout().lock();
    if config.json {
        serde_json::to_writer_pretty(&mut out, &hits)?;
        writeln!(out)?;
    } else if hits.is_empty() {
        let what = if query.is_empty() {
            "no sessions recorded yet".to_string()
        } else {
            format!("no session matches {query:?}")
        };
        writeln!(out, "{what}")?;
    } else {
        let pal = Palette::stdout(config.color);
        for h in &hits {
            write!(
                out,
                "#{:<4} {}  {}  [{}]  {}",
                h.id,
                pal.dim(&format_time(h.summary.time)),
                pal.bold(&h.summary.host),
                h.summary.category,
                h.summary.issue
            )?;
            if config.rag_debug && !query.is_empty() {
                write!(out, "  {}", pal.dim(&score_line(h.score, h.bm25, h.vector)))?;
            }
            writeln!(out)?;
            if !h.summary.root_cause.is_empty() {
                writeln!(out, "      root cause: {}", h.summary.root_cause)?;
            }
        }
    }
    super::runbooks::notes(&k, config);
    Ok(Code::Success)
}

/// Sessions as a Markdown document.
pub fn export_markdown(hits: &[SessionHit], query: &str) -> String {
    let mut md = String::from("# tai session history\n\n");
    if !query.is_empty() {
        md.push_str(&format!("Sessions matching `{query}`.\n\n"));
    }
    for h in hits {
        let s = &h.summary;
        md.push_str(&format!(
            "## #{} {} — {}\n\n- **Time:** {}\n- **Category:** {}\n- **Issue:** {}\n- **Root cause:** {}\n",
            h.id,
            s.host,
            s.issue.lines().next().unwrap_or(""),
            format_time(s.time),
            s.category,
            s.issue,
            if s.root_cause.is_empty() { "(not determined)" } else { &s.root_cause }
        ));
        if let Some(m) = &s.model {
            md.push_str(&format!("- **Model:** {m}\n"));
        }
        if !s.actions.is_empty() {
            md.push_str("\n**Actions**\n\n");
            for a in &s.actions {
                md.push_str(&format!("- {a}\n"));
            }
        }
        if !s.evidence.is_empty() {
            md.push_str("\n**Evidence**\n\n");
            for e in &s.evidence {
                md.push_str(&format!("- {e}\n"));
            }
        }
        md.push('\n');
    }
    md
}
