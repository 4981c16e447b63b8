//! Reading the audit log back for `tai audit`: every line as JSON with where it came from,
//! filtered by host and time, and `--since` parsing (RFC 3339, a date, or `7d`/`24h`/`30m`).
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::{chain, AuditError};

/// One line of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub file: PathBuf,
    /// 1-based line number in `file`.
    pub line: usize,
    pub value: Value,
}

impl Entry {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }

    /// When the line was written.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        self.str("time")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    }
}

/// A `--since` value that is not a time: what is wrong and what is accepted.
#[derive(Debug, thiserror::Error)]
#[error("--since {given:?} is not a time: use RFC 3339 (2026-12-01T08:00:00Z), a date (2026-12-01), or an age such as 7d, 24h or 30m")]
pub struct SinceError {
    pub given: String,
}

/// `--since`: RFC 3339, a date (midnight UTC), or an age before `now` (`7d`, `24h`, `30m`).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, SinceError> {
    let bad = || SinceError {
        given: s.to_string(),
    };
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or_else(bad);
    }
    let unit = s.chars().last().ok_or_else(bad)?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let secs = match unit {
        'd' => n.checked_mul(86_400),
        'h' => n.checked_mul(3_600),
        'm' => n.checked_mul(60),
        's' => Some(n),
        _ => None,
    }
    .filter(|s| *s >= 0)
    .ok_or_else(bad)?;
    Ok(now - chrono::TimeDelta::try_seconds(secs).ok_or_else(bad)?)
}

/// Which lines `tai audit` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Lines about this host (its name as typed, or its address); other events are left out.
    pub host: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

impl Filter {
    pub fn keeps(&self, e: &Entry) -> bool {
        if let Some(h) = &self.host {
            let about = |k: &str| e.str(k).is_some_and(|v| v == h || host_part(v) == h);
            if !about("host") && !about("address") {
                return false;
            }
        }
        match (self.since, e.time()) {
            (Some(since), Some(t)) => t >= since,
            (Some(_), None) => false,
            (None, _) => true,
        }
    }
}

/// `ops@web01:22` → `web01`; `203.0.113.7:22` → `203.0.113.7`; `[::1]:22` → `::1`.
fn host_part(s: &str) -> &str {
    let s = s.rsplit_once('@').map_or(s, |(_, h)| h);
    if let Some(inner) = s.strip_prefix('[') {
        return inner.split(']').next().unwrap_or(inner);
    }
    match s.split_once(':') {
        Some((h, p)) if !p.contains(':') => h,
        _ => s,
    }
}

/// Every line under `dir` that `filter` keeps, oldest first. Lines that are not JSON are
/// skipped here (`tai audit verify` reports them).
pub fn entries(dir: &Path, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
    let mut out = Vec::new();
    for file in chain::month_files(dir)? {
        let text = std::fs::read(&file).map_err(|source| AuditError::Io {
            op: "read",
            path: file.clone(),
            source,
        })?;
        for (i, line) in text.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let Ok(value) = serde_json::from_slice::<Value>(line) else {
                continue;
            };
            let e = Entry {
                file: file.clone(),
                line: i + 1,
                value,
            };
            if filter.keeps(&e) {
                out.push(e);
            }
        }
    }
    Ok(out)
}
