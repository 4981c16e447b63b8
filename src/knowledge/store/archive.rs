//! The `tai export` archive: one JSON-lines file, versioned and checksummed.
//!
//! ```text
//! {"tai_archive":1,"tai_version":"0.1.0","store_schema":1,"created":1764662400,"scope":{..}}
//! {"part":"session","id":3,"summary":{..},"hash":".."}        one line per session
//! {"part":"runbook","name":"..","text":"..",..}                one line per runbook
//! {"manifest":{"counts":{..},"sha256":{"session":"..","runbook":".."},"whole":".."}}
//! ```
//!
//! The header comes first so a newer format is recognised before anything else is read; the
//! manifest comes last so a truncated file (an interrupted copy or export) is recognised by
//! its absence. Each part's SHA-256 covers its lines (with their newlines) in file order;
//! `whole` covers every byte before the manifest line. Reading validates everything (header,
//! counts, checksums, every record, every runbook's text) before the store is touched, so a
//! damaged file is refused with what is wrong and nothing changes.
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{runbook, sha256_hex, ImportBatch, RunbookRecord, SessionRecord, SCHEMA_VERSION};
use crate::exit::{Code, HasExitCode};
use crate::redact::Redactor;

/// The archive format this tai writes and the newest it reads.
pub const ARCHIVE_VERSION: u32 = 1;

/// What went wrong with an archive file.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read archive {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write archive {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("{path} exists; tai export never overwrites a file: remove it or choose another name")]
    Exists { path: String },
    #[error("{path} is not a tai archive ({reason}); nothing was imported")]
    NotArchive { path: String, reason: String },
    #[error("archive {path} was written by tai {tai_version} in archive format {found}; this tai reads up to format {supported}\n  nothing was imported; upgrade tai, or export again with this tai's version")]
    Newer {
        path: String,
        found: u32,
        supported: u32,
        tai_version: String,
    },
    #[error("archive {path} is truncated: {reason}\n  nothing was imported; copy the file again or export it again")]
    Truncated { path: String, reason: String },
    #[error("archive {path} is damaged: {part} checksum differs (manifest sha256 {expected}, file sha256 {actual})\n  nothing was imported; copy the file again or export it again")]
    Checksum {
        path: String,
        part: String,
        expected: String,
        actual: String,
    },
    #[error("archive {path} is damaged: {reason}\n  nothing was imported; copy the file again or export it again")]
    Damaged { path: String, reason: String },
}

impl HasExitCode for ArchiveError {
    fn exit_code(&self) -> Code {
        match self {
            ArchiveError::Exists { .. } => Code::Usage,
            _ => Code::Failure,
        }
    }
}

/// What an export selects (recorded in the header).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Scope {
    pub sessions: bool,
    pub runbooks: bool,
    pub host: Option<String>,
    /// Unix seconds: sessions that ended at or after it.
    pub since: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    tai_archive: u32,
    tai_version: String,
    store_schema: u32,
    created: u64,
    scope: Scope,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "part", rename_all = "lowercase")]
enum Item {
    Session(SessionRecord),
    Runbook(RunbookRecord),
}

/// Counts and checksums per part, and of the whole file before the manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub counts: std::collections::BTreeMap<String, u64>,
    pub sha256: std::collections::BTreeMap<String, String>,
    pub whole: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestLine {
    manifest: Manifest,
}

const PARTS: [&str; 2] = ["session", "runbook"];

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase hex SHA-256 of `bytes` (what `tai export` prints for the whole file).
pub fn sha256_of(bytes: &[u8]) -> String {
    hex(Sha256::digest(bytes))
}

/// The archive bytes for these records.
pub fn encode(
    scope: &Scope,
    sessions: &[SessionRecord],
    runbooks: &[RunbookRecord],
    created: u64,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    let header = Header {
        tai_archive: ARCHIVE_VERSION,
        tai_version: env!("CARGO_PKG_VERSION").to_string(),
        store_schema: SCHEMA_VERSION,
        created,
        scope: scope.clone(),
    };
    serde_json::to_writer(&mut out, &header)?;
    out.push(b'\n');
    let mut manifest = Manifest::default();
    let items = sessions
        .iter()
        .map(|s| ("session", Item::Session(s.clone())))
        .chain(runbooks.iter().map(|r| {
            (
                "runbook",
                Item::Runbook(RunbookRecord {
                    chunk_ids: Vec::new(),
                    ..r.clone()
                }),
            )
        }));
    let mut hashers: std::collections::BTreeMap<&str, Sha256> =
        PARTS.iter().map(|p| (*p, Sha256::new())).collect();
    for (part, item) in items {
        let mut line = serde_json::to_vec(&item)?;
        line.push(b'\n');
        if let Some(h) = hashers.get_mut(part) {
            h.update(&line);
        }
        *manifest.counts.entry(part.to_string()).or_default() += 1;
        out.extend_from_slice(&line);
    }
    for (part, h) in hashers {
        manifest.counts.entry(part.to_string()).or_default();
        manifest.sha256.insert(part.to_string(), hex(h.finalize()));
    }
    manifest.whole = hex(Sha256::digest(&out));
    serde_json::to_writer(&mut out, &ManifestLine { manifest })?;
    out.push(b'\n');
    Ok(out)
}

/// Write `bytes` to `file` atomically: a temporary file next to it, fsynced, then renamed.
/// An existing `file` is refused.
pub fn write_file(file: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    let werr = |reason: String| ArchiveError::Write {
        path: file.display().to_string(),
        reason,
    };
    if file.exists() {
        return Err(ArchiveError::Exists {
            path: file.display().to_string(),
        });
    }
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tai-export-")
        .tempfile_in(&dir)
        .map_err(|e| {
            werr(format!(
                "cannot create a temporary file in {}: {e}",
                dir.display()
            ))
        })?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| werr(e.to_string()))?;
    tmp.persist_noclobber(file)
        .map_err(|e| werr(e.error.to_string()))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A validated archive.
#[derive(Debug, Clone)]
pub struct Archive {
    pub tai_version: String,
    pub created: u64,
    pub scope: Scope,
    pub manifest: Manifest,
    pub batch: ImportBatch,
}

/// Read and validate an archive file completely.
pub fn read_file(file: &Path, redactor: &Redactor) -> Result<Archive, ArchiveError> {
    let bytes = std::fs::read(file).map_err(|e| ArchiveError::Read {
        path: file.display().to_string(),
        reason: e.to_string(),
    })?;
    decode(&file.display().to_string(), &bytes, redactor)
}

/// Validate archive bytes: header, manifest, counts, checksums, records, runbook texts.
/// Sessions are redacted again (with `redactor`: the built-ins plus the user's `[redact]
/// patterns) and get their content id recomputed, so an archive made by hand or on another
/// machine cannot put a secret or a wrong id into the store.
pub fn decode(path: &str, bytes: &[u8], redactor: &Redactor) -> Result<Archive, ArchiveError> {
    let damaged = |reason: String| ArchiveError::Damaged {
        path: path.to_string(),
        reason,
    };
    let first_end = bytes
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(bytes.len());
    let header_value: serde_json::Value =
        serde_json::from_slice(&bytes[..first_end]).map_err(|e| ArchiveError::NotArchive {
            path: path.to_string(),
            reason: format!("its first line is not a JSON header: {e}"),
        })?;
    let Some(found) = header_value.get("tai_archive").and_then(|v| v.as_u64()) else {
        return Err(ArchiveError::NotArchive {
            path: path.to_string(),
            reason: "its first line has no tai_archive version".into(),
        });
    };
    if found > u64::from(ARCHIVE_VERSION) {
        return Err(ArchiveError::Newer {
            path: path.to_string(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: ARCHIVE_VERSION,
            tai_version: header_value["tai_version"]
                .as_str()
                .unwrap_or("?")
                .to_string(),
        });
    }
    let header: Header = serde_json::from_value(header_value)
        .map_err(|e| damaged(format!("line 1 (header): {e}")))?;
    if !bytes.ends_with(b"\n") {
        return Err(ArchiveError::Truncated {
            path: path.to_string(),
            reason: format!(
                "it ends in the middle of a line after {} bytes",
                bytes.len()
            ),
        });
    }
    let body = &bytes[..bytes.len() - 1];
    let last_start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let manifest: Manifest = match serde_json::from_slice::<ManifestLine>(&body[last_start..]) {
        Ok(m) if last_start > 0 => m.manifest,
        _ => {
            let lines = bytecount_lines(bytes);
            return Err(ArchiveError::Truncated {
                path: path.to_string(),
                reason: format!("its last line (line {lines}) is not the manifest"),
            });
        }
    };
    let records = &bytes[first_end + 1..last_start];
    let mut hashers: std::collections::BTreeMap<&str, Sha256> =
        PARTS.iter().map(|p| (*p, Sha256::new())).collect();
    let mut counts: std::collections::BTreeMap<String, u64> =
        PARTS.iter().map(|p| (p.to_string(), 0)).collect();
    let mut batch = ImportBatch::default();
    let mut parse_errors = Vec::new();
    for (i, line) in records.split_inclusive(|b| *b == b'\n').enumerate() {
        let n = i + 2;
        let item: Result<Item, _> = serde_json::from_slice(line);
        let part = match &item {
            Ok(Item::Session(_)) => "session",
            Ok(Item::Runbook(_)) => "runbook",
            Err(e) => {
                parse_errors.push(format!("line {n} is not a record: {e}"));
                // Which part it belongs to, as far as it can be told, for the checksum.
                let text = String::from_utf8_lossy(line);
                if text.contains("\"part\":\"runbook\"") {
                    "runbook"
                } else {
                    "session"
                }
            }
        };
        if let Some(h) = hashers.get_mut(part) {
            h.update(line);
        }
        *counts.entry(part.to_string()).or_default() += 1;
        match item {
            Ok(Item::Session(s)) => batch.sessions.push(s),
            Ok(Item::Runbook(r)) => batch.runbooks.push(r),
            Err(_) => {}
        }
    }
    for part in PARTS {
        let want = manifest.counts.get(part).copied().unwrap_or(0);
        let have = counts.get(part).copied().unwrap_or(0);
        if want != have {
            return Err(damaged(format!(
                "the manifest lists {want} {part} records, the file holds {have}"
            )));
        }
    }
    for (part, h) in hashers {
        let actual = hex(h.finalize());
        let expected = manifest.sha256.get(part).cloned().unwrap_or_default();
        if actual != expected {
            return Err(ArchiveError::Checksum {
                path: path.to_string(),
                part: format!("the {part} part"),
                expected,
                actual,
            });
        }
    }
    let actual = hex(Sha256::digest(&bytes[..last_start]));
    if actual != manifest.whole {
        return Err(ArchiveError::Checksum {
            path: path.to_string(),
            part: "the whole file".into(),
            expected: manifest.whole.clone(),
            actual,
        });
    }
    if let Some(e) = parse_errors.into_iter().next() {
        return Err(damaged(e));
    }
    for s in &mut batch.sessions {
        s.summary = s.summary.redacted(redactor);
        s.hash = sha256_hex(&s.summary.index_text());
    }
    for r in &mut batch.runbooks {
        if sha256_hex(&r.text) != r.hash {
            return Err(damaged(format!(
                "runbook {}: its text does not match its recorded sha256",
                r.name
            )));
        }
        runbook::parse(&r.name, &r.text)
            .map_err(|e| damaged(format!("runbook {}: {e}", r.name)))?;
        r.chunk_ids.clear();
        if !r.source.starts_with("import:") {
            r.source = format!("import:{}", r.source);
        }
    }
    Ok(Archive {
        tai_version: header.tai_version,
        created: header.created,
        scope: header.scope,
        manifest,
        batch,
    })
}

fn bytecount_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count() + usize::from(!bytes.ends_with(b"\n"))
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
