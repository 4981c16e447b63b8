//! The hash chain: appending one line under the lock, and verifying every line.
//!
//! Each line's `prev` is the lowercase hex SHA-256 of the exact bytes of the line before it
//! (without its newline), across monthly files in name order; the first line of all carries
//! [`GENESIS`]. `audit/.head` holds the hash of the last line written, so a removed tail is
//! detected as well; `audit/.base` ([`BASE_FILE`], written by `tai cleanup` when it removes
//! whole old months) lists hashes the first remaining line may chain to instead of genesis.
//! Appends take an exclusive `flock` on `audit/.lock` and re-read the last line's hash under
//! it, so two processes never interleave lines or fork the chain.
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::AuditError;

/// The `prev` of the first line of all.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const LOCK_FILE: &str = ".lock";
const HEAD_FILE: &str = ".head";
/// Hashes a removed prefix of the chain ended with, one per line (written by `tai cleanup`
/// when it removes whole old monthly files): the first remaining line may chain to one.
pub const BASE_FILE: &str = ".base";

/// Hex SHA-256 of one line's bytes (without its newline).
pub fn hash_line(line: &[u8]) -> String {
    let digest = Sha256::digest(line);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AuditError {
    let path = path.to_path_buf();
    move |source| AuditError::Io { op, path, source }
}

/// Whether `name` is a monthly file (`2026-12.jsonl`).
fn is_month_file(name: &str) -> bool {
    let b = name.as_bytes();
    name.len() == "2026-12.jsonl".len()
        && name.ends_with(".jsonl")
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
}

/// The monthly files of `dir`, oldest first (empty when `dir` does not exist).
pub fn month_files(dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read the audit directory", dir)(e)),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(is_month_file))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// The last line of `path` (without its newline), `None` when the file is empty. A file that
/// does not end in a newline holds a partial line: refused.
fn last_line(path: &Path) -> Result<Option<Vec<u8>>, AuditError> {
    let mut f = File::open(path).map_err(io("read", path))?;
    let len = f.metadata().map_err(io("read", path))?.len();
    if len == 0 {
        return Ok(None);
    }
    let mut window: u64 = 64 * 1024;
    loop {
        let start = len.saturating_sub(window);
        f.seek(SeekFrom::Start(start)).map_err(io("read", path))?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        Read::by_ref(&mut f)
            .take(len - start)
            .read_to_end(&mut buf)
            .map_err(io("read", path))?;
        if buf.last() != Some(&b'\n') {
            return Err(AuditError::PartialLine {
                path: path.to_path_buf(),
            });
        }
        let body = &buf[..buf.len() - 1];
        match body.iter().rposition(|b| *b == b'\n') {
            Some(i) => return Ok(Some(body[i + 1..].to_vec())),
            None if start == 0 => return Ok(Some(body.to_vec())),
            None => window *= 4,
        }
    }
}

/// The hash the next line must carry as `prev`, and the newest monthly file.
fn chain_tip(dir: &Path) -> Result<(String, Option<PathBuf>), AuditError> {
    let files = month_files(dir)?;
    let newest = files.last().cloned();
    for f in files.iter().rev() {
        if let Some(line) = last_line(f)? {
            return Ok((hash_line(&line), newest));
        }
    }
    Ok((GENESIS.to_string(), newest))
}

/// An exclusive `flock` on `dir/.lock`, released when dropped.
struct Lock {
    _file: File,
}

impl Lock {
    fn take(dir: &Path) -> Result<Lock, AuditError> {
        let path = dir.join(LOCK_FILE);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io("open the lock file", &path))?;
        loop {
            // SAFETY: flock on a descriptor this function owns for the lock's lifetime.
            let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(Lock { _file: f });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(io("lock", &path)(err));
            }
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync the audit directory", dir))
}

/// Append `maps` (events with their envelope, no `prev` yet) as the next lines of the chain,
/// in order: one lock, one write, one fdatasync and one `.head` update for all of them (the
/// group commit of [`super::AuditLog::append`]).
pub(super) fn append_all(
    dir: &Path,
    maps: Vec<serde_json::Map<String, Value>>,
) -> Result<(), AuditError> {
    let Some(first) = maps.first() else {
        return Ok(());
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("create the audit directory", dir))?;
    }
    let _lock = Lock::take(dir)?;
    let (mut prev, newest) = chain_tip(dir)?;
    let month = first
        .get("time")
        .and_then(Value::as_str)
        .and_then(|t| t.get(..7))
        .unwrap_or("0000-00")
        .to_string();
    let mut path = dir.join(format!("{month}.jsonl"));
    // A clock that went back never writes into an older file than the chain's newest.
    if let Some(n) = newest {
        if n > path {
            path = n;
        }
    }
    let mut text = String::new();
    for mut map in maps {
        map.insert("prev".into(), Value::String(prev));
        let line = serde_json::to_string(&Value::Object(map))?;
        prev = hash_line(line.as_bytes());
        text.push_str(&line);
        text.push('\n');
    }
    let created = !path.exists();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .map_err(io("open", &path))?;
    let before = f.metadata().map_err(io("read", &path))?.len();
    if let Err(e) = f.write_all(text.as_bytes()).and_then(|()| f.sync_data()) {
        // Disk full mid-line: take the partial lines back so the chain stays whole.
        let _ = f.set_len(before);
        let _ = f.sync_data();
        return Err(io("write", &path)(e));
    }
    if created {
        sync_dir(dir)?;
    }
    write_head(dir, &prev)
}

/// Record the last line's hash in `.head`: the same 65 bytes overwritten in place (one
/// sector, so a crash leaves the old or the new hash), then fdatasync; one sync per append
/// instead of a temporary file, its sync, a rename and a directory sync.
fn write_head(dir: &Path, hash: &str) -> Result<(), AuditError> {
    use std::os::unix::fs::FileExt;
    let head = dir.join(HEAD_FILE);
    let created = !head.exists();
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&head)
        .map_err(io("write", &head))?;
    let line = format!("{hash}\n");
    f.write_all_at(line.as_bytes(), 0)
        .and_then(|()| f.set_len(line.len() as u64))
        .and_then(|()| f.sync_data())
        .map_err(io("write", &head))?;
    if created {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The first place the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Break {
    pub file: PathBuf,
    /// 1-based line number in `file`.
    pub line: usize,
    pub reason: String,
}

/// What `tai audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    pub files: usize,
    pub lines: usize,
    /// `None`: the whole chain holds.
    pub broken: Option<Break>,
}

/// Check every line of every monthly file under `dir`: valid JSON whose `prev` is the hash
/// of the line before (across files), files ending in a newline, and the last line's hash
/// equal to `.head`. Reports the first break.
pub fn verify(dir: &Path) -> Result<VerifyReport, AuditError> {
    let files = month_files(dir)?;
    let mut report = VerifyReport {
        files: files.len(),
        lines: 0,
        broken: None,
    };
    let mut expected = GENESIS.to_string();
    let base_path = dir.join(BASE_FILE);
    let bases: Vec<String> = match std::fs::read_to_string(&base_path) {
        Ok(text) => text.lines().map(|l| l.trim().to_string()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io("read", &base_path)(e)),
    };
    let mut last: Option<(PathBuf, usize)> = None;
    for file in &files {
        let bytes = std::fs::read(file).map_err(io("read", file))?;
        if bytes.is_empty() {
            continue;
        }
        let ends_whole = bytes.last() == Some(&b'\n');
        let body = if ends_whole {
            &bytes[..bytes.len() - 1]
        } else {
            &bytes[..]
        };
        let count = body.split(|b| *b == b'\n').count();
        for (i, line) in body.split(|b| *b == b'\n').enumerate() {
            let n = i + 1;
            let fail = |reason: String| Break {
                file: file.clone(),
                line: n,
                reason,
            };
            if n == count && !ends_whole {
                report.broken = Some(fail("a partial last line (no newline at its end)".into()));
                return Ok(report);
            }
            let prev = serde_json::from_slice::<Value>(line)
                .ok()
                .and_then(|v| v.get("prev").and_then(Value::as_str).map(str::to_string));
            let Some(prev) = prev else {
                report.broken = Some(fail(
                    "not a JSON audit line with a `prev` hash (edited or damaged)".into(),
                ));
                return Ok(report);
            };
            let first_of_all = last.is_none();
            if first_of_all && prev != expected && bases.contains(&prev) {
                // The chain's older files were removed by `tai cleanup`, which recorded this.
                expected = prev.clone();
            }
            if prev != expected {
                report.broken = Some(fail(format!(
                    "its `prev` is {} but the line before it hashes to {}: this line or the one \
                     before it was edited, or lines were deleted or reordered here",
                    short(&prev),
                    short(&expected)
                )));
                return Ok(report);
            }
            expected = hash_line(line);
            report.lines += 1;
            last = Some((file.clone(), n));
        }
    }
    let head_path = dir.join(HEAD_FILE);
    match std::fs::read_to_string(&head_path) {
        Ok(head) if head.trim() != expected => {
            let (file, line) = last.unwrap_or_else(|| (dir.to_path_buf(), 0));
            report.broken = Some(Break {
                file,
                line,
                reason: format!(
                    "the log ends here, but {} records a last line hashing to {}: the last \
                     line(s) were removed or edited",
                    head_path.display(),
                    short(head.trim())
                ),
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && report.lines == 0 => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (file, line) = last.unwrap_or_else(|| (dir.to_path_buf(), 0));
            report.broken = Some(Break {
                file,
                line,
                reason: format!(
                    "{} is missing: the chain's end cannot be checked",
                    head_path.display()
                ),
            });
        }
        Err(e) => return Err(io("read", &head_path)(e)),
    }
    Ok(report)
}

fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}
