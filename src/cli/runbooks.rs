//! `tai runbooks sync|list|add|search`: thin wrappers over [`crate::knowledge::Knowledge`].
use std::io::Write;

use anyhow::Result;

use super::args::RunbooksCommand;
use crate::config::Config;
use crate::exit::Code;
use crate::knowledge::{format_time, score_line, Knowledge};
use crate::render::Palette;

pub async fn run(config: &Config, cmd: RunbooksCommand) -> Result<Code> {
    let k = Knowledge::open(config)?;
    let mut out = std::io::stdout().lock();
    let pal = Palette::stdout(config.color);
    match cmd {
        RunbooksCommand::Sync { path } => {
            let stats = match &path {
                Some(dir) => k.sync_dir(dir).await?,
                None => k.sync_bundled().await?,
            };
            if config.json {
                serde_json::to_writer_pretty(&mut out, &stats)?;
                writeln!(out)?;
            } else {
                let from = path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the bundled runbooks".into());
                writeln!(
                    out,
                    "synced {from}: {} added, {} updated, {} unchanged, {} removed; {} sections embedded",
                    stats.added.len(),
                    stats.updated.len(),
                    stats.unchanged.len(),
                    stats.removed.len(),
                    stats.embedded_chunks
                )?;
                for (what, names) in [
                    ("added", &stats.added),
                    ("updated", &stats.updated),
                    ("removed", &stats.removed),
                ] {
                    for n in names {
                        writeln!(out, "  {what} {n}")?;
                    }
                }
            }
            notes(&k, config);
            Ok(Code::Success)
        }
        RunbooksCommand::Add { file } => {
            let stats = k.add_file(&file).await?;
            if config.json {
                serde_json::to_writer_pretty(&mut out, &stats)?;
                writeln!(out)?;
            } else {
                let state = if !stats.added.is_empty() {
                    "added"
                } else if !stats.updated.is_empty() {
                    "updated"
                } else {
                    "unchanged"
                };
                writeln!(out, "{state} {}", file.display())?;
            }
            notes(&k, config);
            Ok(Code::Success)
        }
        RunbooksCommand::List => {
            let list = k.list()?;
            if config.json {
                serde_json::to_writer_pretty(&mut out, &list)?;
                writeln!(out)?;
                return Ok(Code::Success);
            }
            let width = list.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
            writeln!(
                out,
                "{}",
                pal.heading(&format!(
                    "{:width$}  {:>8}  {:>7}  {:20}  source",
                    "name", "sections", "vectors", "last sync"
                ))
            )?;
            for r in &list {
                writeln!(
                    out,
                    "{:width$}  {:>8}  {:>7}  {:20}  {}",
                    r.name,
                    r.chunks,
                    r.vectors,
                    format_time(r.synced_at),
                    r.source
                )?;
            }
            writeln!(
                out,
                "{} runbooks, {} sections, store {}",
                list.len(),
                list.iter().map(|r| r.chunks).sum::<usize>(),
                k.path().display()
            )?;
            Ok(Code::Success)
        }
        RunbooksCommand::Search { query, limit } => {
            let query = query.join(" ");
            let hits = k.search(&query, limit).await?;
            if config.json {
                serde_json::to_writer_pretty(&mut out, &hits)?;
                writeln!(out)?;
            } else if hits.is_empty() {
                writeln!(out, "no runbook section matches {query:?}")?;
            } else {
                for (i, h) in hits.iter().enumerate() {
                    write!(out, "{}. {}", i + 1, pal.bold(&h.citation))?;
                    if config.rag_debug {
                        write!(out, "  {}", pal.dim(&score_line(h.score, h.bm25, h.vector)))?;
                    }
                    writeln!(out)?;
                    let preview: String = h
                        .text
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .take(3)
                        .collect::<Vec<_>>()
                        .join("\n   ");
                    writeln!(out, "   {preview}")?;
                }
            }
            notes(&k, config);
            Ok(Code::Success)
        }
    }
}

/// Say on stderr why vectors were not used (only with --rag-debug or -v: BM25-only is normal
/// in air-gapped setups).
pub(super) fn notes(k: &Knowledge, config: &Config) {
    if !k.persists() && config.verbose > 0 {
        eprintln!("note: --no-persist: using a temporary store with the bundled runbooks; nothing is written under TAI_HOME");
    }
    if config.rag_debug || config.verbose > 0 {
        if let Some(n) = k.last_note() {
            eprintln!("note: {n}");
        }
    }
}
