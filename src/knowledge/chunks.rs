//! Per-session retrieval (Tier 1), purely in memory: tool outputs are cut at command
//! boundaries and, when large, into overlapping token windows; chunks are indexed with BM25
//! (plus vectors when an embedder answers), and for each question the loop sends the model
//! only the chunks that matter, under a token budget, with a note of what was left out.
//! [`Selection`] reports tokens sent against what the full dump would have cost.
use std::collections::HashMap;

use serde::Serialize;

use super::bm25::Bm25Index;
use super::embed::{self, EmbedError, Embedder};
use super::fusion;
use crate::tools::ToolOutcome;

/// Rough token count (about four characters per token for logs and English).
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// Words that mark a line as a likely symptom, whatever the question says.
const SIGNALS: &[&str] = &[
    "error",
    "fail",
    "failed",
    "failure",
    "refused",
    "denied",
    "timeout",
    "timed out",
    "panic",
    "oom",
    "out of memory",
    "killed",
    "fatal",
    "critical",
    "crit",
    "segfault",
    "no space",
    "unreachable",
    "cannot",
    "could not",
    "can't",
    "invalid",
    "exception",
    "emerg",
    "alert",
    "corrupt",
    "i/o error",
    "abort",
    "expired",
    "unable",
];

fn is_signal(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    SIGNALS.iter().any(|s| l.contains(s))
}

/// A line's template: alphanumeric runs that contain a digit (pids, timestamps, addresses,
/// ids) become `#`. Lines that repeat with different numbers share a template; a one-off
/// error keeps its own.
pub fn template(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().any(|c| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(&run.to_lowercase());
        }
        run.clear();
    };
    for c in line.chars() {
        if c.is_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// How outputs are cut.
#[derive(Debug, Clone, Copy)]
pub struct ChunkOptions {
    /// Target tokens per chunk.
    pub window_tokens: usize,
    /// Tokens repeated between consecutive windows, so a line at a boundary keeps context.
    pub overlap_tokens: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self {
            window_tokens: 200,
            overlap_tokens: 40,
        }
    }
}

/// One piece of one tool output.
#[derive(Debug, Clone, Serialize)]
pub struct OutputChunk {
    pub call_id: String,
    pub tool: String,
    pub command: String,
    /// Position of the chunk within its output.
    pub seq: usize,
    /// 1-based line range within the output.
    pub first_line: usize,
    pub last_line: usize,
    pub total_lines: usize,
    pub text: String,
    pub tokens: usize,
}

impl OutputChunk {
    fn header(&self) -> String {
        format!(
            "[{} {} `{}` lines {}-{} of {}]",
            self.call_id,
            self.tool,
            self.command,
            self.first_line,
            self.last_line,
            self.total_lines
        )
    }
}

/// A chunk chosen for the model, with the scores that chose it.
#[derive(Debug, Clone, Serialize)]
pub struct SelectedChunk {
    pub chunk: OutputChunk,
    pub score: f32,
    pub bm25: Option<f32>,
    pub vector: Option<f32>,
}

/// What goes to the model for one question.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    pub chunks: Vec<SelectedChunk>,
    /// The text to send: selected chunks grouped by call, plus a line per call saying what was
    /// left out.
    pub rendered: String,
    /// Tokens of `rendered`.
    pub tokens_sent: usize,
    /// Tokens the whole dump would have cost.
    pub tokens_full: usize,
    pub vectors_used: bool,
}

impl Selection {
    /// Fraction of the full dump's tokens saved (0 when nothing was saved).
    pub fn saving(&self) -> f64 {
        if self.tokens_full == 0 {
            return 0.0;
        }
        1.0 - self.tokens_sent as f64 / self.tokens_full as f64
    }

    /// `sent 1,234 of 56,789 tokens (98% saved)`.
    pub fn summary(&self) -> String {
        format!(
            "sent {} of {} tokens ({:.0}% saved)",
            self.tokens_sent,
            self.tokens_full,
            (self.saving() * 100.0).max(0.0)
        )
    }
}

struct Output {
    call_id: String,
    tool: String,
    command: String,
    text: String,
    chunk_range: (usize, usize),
}

/// The in-memory chunk index of one session.
pub struct SessionChunks {
    opts: ChunkOptions,
    outputs: Vec<Output>,
    chunks: Vec<OutputChunk>,
    bm25: Bm25Index,
    /// Per chunk: template ids of its symptom lines.
    signals: Vec<Vec<u32>>,
    /// Template → (id, lines with that template in the whole session).
    templates: HashMap<String, (u32, u32)>,
    vectors: Vec<Option<Vec<f32>>>,
}

impl Default for SessionChunks {
    fn default() -> Self {
        Self::new(ChunkOptions::default())
    }
}

impl SessionChunks {
    pub fn new(opts: ChunkOptions) -> Self {
        let opts = ChunkOptions {
            window_tokens: opts.window_tokens.max(16),
            overlap_tokens: opts.overlap_tokens.min(opts.window_tokens.max(16) / 2),
        };
        Self {
            opts,
            outputs: Vec::new(),
            chunks: Vec::new(),
            bm25: Bm25Index::new(),
            signals: Vec::new(),
            templates: HashMap::new(),
            vectors: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    pub fn chunks(&self) -> &[OutputChunk] {
        &self.chunks
    }

    /// Tokens of every output in full, with the same per-call headers.
    pub fn full_tokens(&self) -> usize {
        self.outputs
            .iter()
            .map(|o| estimate_tokens(&o.text) + estimate_tokens(&full_header(o)))
            .sum()
    }

    /// Index a tool outcome: its call id, tool, the command(s) it ran and its output.
    pub fn add_outcome(&mut self, outcome: &ToolOutcome) {
        let command = outcome
            .commands
            .iter()
            .map(|c| c.command.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        self.add_output(
            &outcome.call.id,
            &outcome.call.tool,
            &command,
            &outcome.output,
        );
    }

    /// Index one output. Small outputs are one chunk; large ones are cut into windows of
    /// about `window_tokens` at line boundaries, consecutive windows sharing `overlap_tokens`.
    pub fn add_output(&mut self, call_id: &str, tool: &str, command: &str, output: &str) {
        let start = self.chunks.len();
        // Count every symptom line's template once per line of output (not per overlapping
        // chunk), so rarity is about the logs, not the windowing.
        for line in output.lines().filter(|l| is_signal(l)) {
            let next = self.templates.len() as u32;
            self.templates.entry(template(line)).or_insert((next, 0)).1 += 1;
        }
        let lines = split_long_lines(output, self.opts.window_tokens);
        let total = lines.len().max(1);
        let tokens: Vec<usize> = lines.iter().map(|l| estimate_tokens(l) + 1).collect();
        let mut begin = 0;
        for seq in 0..=lines.len() {
            if begin >= lines.len() {
                break;
            }
            let mut end = begin;
            let mut used = 0;
            while end < lines.len()
                && (end == begin || used + tokens[end] <= self.opts.window_tokens)
            {
                used += tokens[end];
                end += 1;
            }
            let text = lines[begin..end].join("\n");
            self.push_chunk(OutputChunk {
                call_id: call_id.to_string(),
                tool: tool.to_string(),
                command: command.to_string(),
                seq,
                first_line: begin + 1,
                last_line: end,
                total_lines: total,
                tokens: estimate_tokens(&text),
                text,
            });
            if end >= lines.len() {
                break;
            }
            // Step back over about `overlap_tokens` worth of lines, always moving forward.
            let mut back = end;
            let mut overlap = 0;
            while back > begin + 1 && overlap + tokens[back - 1] <= self.opts.overlap_tokens {
                overlap += tokens[back - 1];
                back -= 1;
            }
            begin = back;
        }
        if lines.is_empty() {
            self.push_chunk(OutputChunk {
                call_id: call_id.to_string(),
                tool: tool.to_string(),
                command: command.to_string(),
                seq: 0,
                first_line: 0,
                last_line: 0,
                total_lines: 0,
                text: "(no output)".into(),
                tokens: 3,
            });
        }
        self.outputs.push(Output {
            call_id: call_id.to_string(),
            tool: tool.to_string(),
            command: command.to_string(),
            text: output.to_string(),
            chunk_range: (start, self.chunks.len()),
        });
    }

    fn push_chunk(&mut self, c: OutputChunk) {
        let indexed = format!("{} {} {}\n{}", c.tool, c.command, c.call_id, c.text);
        self.bm25.add(&indexed);
        let ids: Vec<u32> = c
            .text
            .lines()
            .filter(|l| is_signal(l))
            .filter_map(|l| self.templates.get(&template(l)).map(|(id, _)| *id))
            .collect();
        self.signals.push(ids);
        self.vectors.push(None);
        self.chunks.push(c);
    }

    /// Embed chunks that have no vector yet. Returns how many were embedded.
    pub async fn embed_pending(&mut self, embedder: &Embedder) -> Result<usize, EmbedError> {
        let pending: Vec<usize> = (0..self.chunks.len())
            .filter(|i| self.vectors[*i].is_none())
            .collect();
        if pending.is_empty() {
            return Ok(0);
        }
        let texts: Vec<String> = pending
            .iter()
            .map(|i| format!("{}\n{}", self.chunks[*i].header(), self.chunks[*i].text))
            .collect();
        let vs = embedder.embed_documents(&texts).await?;
        for (i, v) in pending.iter().zip(vs) {
            self.vectors[*i] = Some(v);
        }
        Ok(pending.len())
    }

    /// Select by BM25 and symptom lines only (no patterns, no vectors).
    pub fn select(&self, question: &str, budget_tokens: usize) -> Selection {
        self.select_guided(question, &[], budget_tokens, None)
    }

    /// The ranking: BM25 on the question, cosine on the query vector (if any), chunks with
    /// rare symptom lines (errors, refusals, timeouts, kills), and chunks with lines matching
    /// `patterns` (log messages the relevant runbooks tell you to look for; see
    /// `Knowledge::evidence_patterns`), fused by reciprocal rank; then greedily packed into
    /// `budget_tokens` and rendered in output order.
    pub fn select_guided(
        &self,
        question: &str,
        patterns: &[String],
        budget_tokens: usize,
        qv: Option<&[f32]>,
    ) -> Selection {
        let n = self.chunks.len();
        let lexical = self.bm25.search(question, n);
        let bm25_score: HashMap<usize, f32> = lexical.iter().copied().collect();
        let lex_rank: Vec<usize> = lexical.iter().map(|(i, _)| *i).collect();
        let mut vec_score: HashMap<usize, f32> = HashMap::new();
        let mut vec_rank: Vec<usize> = Vec::new();
        if let Some(q) = qv {
            let mut scored: Vec<(usize, f32)> = self
                .vectors
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_ref().map(|v| (i, embed::cosine(q, v))))
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1));
            scored.truncate(n.min(64));
            for (i, s) in &scored {
                vec_score.insert(*i, *s);
            }
            vec_rank = scored.into_iter().map(|(i, _)| i).collect();
        }
        // Symptom lines ranked by rarity: a one-off `connect() failed` outranks the
        // thousandth copy of a routine warning.
        let count_of: HashMap<u32, u32> = self.templates.values().copied().collect();
        let rarity: Vec<f32> = self
            .signals
            .iter()
            .map(|ids| {
                ids.iter()
                    .map(|id| 1.0 / count_of.get(id).copied().unwrap_or(1).max(1) as f32)
                    .sum()
            })
            .collect();
        let mut sig_rank: Vec<usize> = (0..n).filter(|i| rarity[*i] > 0.0).collect();
        sig_rank.sort_by(|a, b| rarity[*b].total_cmp(&rarity[*a]).then(a.cmp(b)));
        let pattern_rank = self.pattern_rank(patterns);
        let fused = fusion::rrf(&[lex_rank, vec_rank, sig_rank, pattern_rank], fusion::RRF_K);

        // Everything fits: send everything (in order), still scored for --rag-debug.
        if estimate_tokens(&self.render(&vec![true; n])) <= budget_tokens {
            let mut all: Vec<SelectedChunk> = Vec::new();
            let fused: HashMap<usize, f32> = fused.into_iter().collect();
            for (i, c) in self.chunks.iter().enumerate() {
                all.push(SelectedChunk {
                    chunk: c.clone(),
                    score: fused.get(&i).copied().unwrap_or(0.0),
                    bm25: bm25_score.get(&i).copied(),
                    vector: vec_score.get(&i).copied(),
                });
            }
            let rendered = self.render(&vec![true; n]);
            return Selection {
                tokens_sent: estimate_tokens(&rendered),
                tokens_full: self.full_tokens(),
                rendered,
                chunks: all,
                vectors_used: qv.is_some(),
            };
        }
        // Pack: reserve room for one "left out" line per call.
        let note_cost = 24;
        let reserve = self.outputs.len() * note_cost;
        let mut left = budget_tokens.saturating_sub(reserve);
        let mut chosen: Vec<SelectedChunk> = Vec::new();
        let mut taken = vec![false; n];
        for (i, score) in fused {
            let cost = self.chunks[i].tokens + estimate_tokens(&self.chunks[i].header()) + 1;
            if cost > left {
                continue;
            }
            left -= cost;
            taken[i] = true;
            chosen.push(SelectedChunk {
                chunk: self.chunks[i].clone(),
                score,
                bm25: bm25_score.get(&i).copied(),
                vector: vec_score.get(&i).copied(),
            });
        }
        let rendered = self.render(&taken);
        chosen.sort_by_key(|c| {
            let out = self
                .outputs
                .iter()
                .position(|o| o.call_id == c.chunk.call_id)
                .unwrap_or(0);
            (out, c.chunk.seq)
        });
        Selection {
            tokens_sent: estimate_tokens(&rendered),
            tokens_full: self.full_tokens(),
            rendered,
            chunks: chosen,
            vectors_used: qv.is_some(),
        }
    }

    /// Chunks ranked by how many of their lines contain (nearly) all terms of a pattern.
    fn pattern_rank(&self, patterns: &[String]) -> Vec<usize> {
        let pats: Vec<Vec<String>> = patterns
            .iter()
            .map(|p| {
                let mut t = super::bm25::tokenize(p);
                t.sort();
                t.dedup();
                t
            })
            .filter(|t| t.len() >= 2)
            .collect();
        if pats.is_empty() {
            return Vec::new();
        }
        let mut scored: Vec<(usize, usize)> = Vec::new();
        for (i, c) in self.chunks.iter().enumerate() {
            let mut hits = 0;
            for line in c.text.lines() {
                let terms: std::collections::HashSet<String> =
                    super::bm25::tokenize(line).into_iter().collect();
                if pats.iter().any(|p| {
                    let have = p.iter().filter(|t| terms.contains(*t)).count();
                    have * 5 >= p.len() * 4
                }) {
                    hits += 1;
                }
            }
            if hits > 0 {
                scored.push((i, hits));
            }
        }
        scored.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.into_iter().map(|(i, _)| i).collect()
    }

    fn render(&self, taken: &[bool]) -> String {
        let mut out = String::new();
        for o in &self.outputs {
            let (a, b) = o.chunk_range;
            let shown: Vec<usize> = (a..b).filter(|i| taken[*i]).collect();
            for i in &shown {
                let c = &self.chunks[*i];
                out.push_str(&c.header());
                out.push('\n');
                out.push_str(&c.text);
                out.push('\n');
            }
            let hidden = (b - a) - shown.len();
            if hidden > 0 {
                out.push_str(&format!(
                    "[{} {}: {} of {} chunks not shown ({} tokens); ask about them or narrow the command]\n",
                    o.call_id,
                    o.tool,
                    hidden,
                    b - a,
                    (a..b)
                        .filter(|i| !taken[*i])
                        .map(|i| self.chunks[i].tokens)
                        .sum::<usize>()
                ));
            }
        }
        out
    }

    /// Everything, for `--no-rag`.
    pub fn render_all(&self) -> String {
        let mut out = String::new();
        for o in &self.outputs {
            out.push_str(&full_header(o));
            out.push('\n');
            out.push_str(&o.text);
            out.push('\n');
        }
        out
    }
}

fn full_header(o: &Output) -> String {
    format!("[{} {} `{}`]", o.call_id, o.tool, o.command)
}

/// Lines of `text`, with any line longer than a window cut into window-sized pieces.
fn split_long_lines(text: &str, window_tokens: usize) -> Vec<String> {
    let max_chars = window_tokens * 4;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.len() <= max_chars {
            out.push(line.to_string());
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        for piece in chars.chunks(max_chars) {
            out.push(piece.iter().collect());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy_journal(lines: usize, evidence_at: usize, evidence: &str) -> String {
        let services = ["cron", "systemd", "kernel", "sshd", "nginx", "app"];
        let mut out = String::new();
        for i in 0..lines {
            if i == evidence_at {
                out.push_str(evidence);
            } else {
                let s = services[i % services.len()];
                out.push_str(&format!(
                    "Nov 25 08:{:02}:{:02} web01 {s}[{}]: request {i} handled in {} ms status=200",
                    (i / 60) % 60,
                    i % 60,
                    1000 + i % 97,
                    i % 250
                ));
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn windows_overlap_and_cover_every_line() {
        let mut sc = SessionChunks::new(ChunkOptions {
            window_tokens: 50,
            overlap_tokens: 10,
        });
        let text: String = (1..=100)
            .map(|i| format!("line number {i} here\n"))
            .collect();
        sc.add_output("T1", "read_file", "cat /x", &text);
        let chunks = sc.chunks();
        assert!(chunks.len() > 5);
        assert_eq!(chunks[0].first_line, 1);
        assert_eq!(chunks.last().unwrap().last_line, 100);
        for w in chunks.windows(2) {
            assert!(
                w[1].first_line <= w[0].last_line,
                "overlap: {:?} {:?}",
                w[0].first_line..=w[0].last_line,
                w[1].first_line..=w[1].last_line
            );
            assert!(w[1].first_line > w[0].first_line, "progress");
        }
        assert!(chunks.iter().all(|c| c.tokens <= 50 + 10));
    }

    #[test]
    fn command_boundaries_are_chunk_boundaries() {
        let mut sc = SessionChunks::default();
        sc.add_output(
            "T1",
            "disk_usage",
            "df -P",
            "Filesystem 1024-blocks Used\n/dev/sda1 100 100 100%",
        );
        sc.add_output("T2", "memory_info", "free -b", "Mem: 1 2 3");
        sc.add_output("T3", "list_dir", "ls /empty", "");
        assert_eq!(sc.len(), 3);
        assert_eq!(sc.chunks()[1].call_id, "T2");
        let sel = sc.select("disk usage sda1", 10_000);
        assert!(sel.rendered.contains("[T1 disk_usage `df -P`"));
    }

    #[test]
    fn the_evidence_line_is_selected_from_a_large_dump_within_budget() {
        let evidence = "Nov 25 08:31:07 web01 nginx[1211]: 2026/11/25 08:31:07 [error] 1211#1211: *8812 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.7, upstream: \"http://127.0.0.1:8080/\"";
        let mut sc = SessionChunks::default();
        sc.add_output(
            "T1",
            "read_journal",
            "journalctl -n 5000",
            &noisy_journal(5000, 3777, evidence),
        );
        sc.add_output(
            "T2",
            "list_sockets",
            "ss -tlnp",
            "LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:((\"nginx\",pid=1211))",
        );
        let sel = sc.select("why does nginx return 502 bad gateway", 2000);
        assert!(
            sel.rendered
                .contains("connect() failed (111: Connection refused)"),
            "{}",
            sel.rendered
        );
        assert!(sel.tokens_sent <= 2000, "{}", sel.summary());
        assert!(sel.saving() > 0.9, "{}", sel.summary());
        assert!(sel.rendered.contains("chunks not shown"));
        assert_eq!(sc.render_all().len() / 4, sc.render_all().len() / 4);
        assert!(estimate_tokens(&sc.render_all()) >= sel.tokens_full - 2);
    }

    #[test]
    fn templates_mask_numbers_but_keep_words() {
        assert_eq!(
            template(
                "Nov 25 08:31:07 web01 sshd[1211]: Failed password from 10.0.0.5 port 4022 ssh2"
            ),
            template(
                "Nov 26 11:02:59 web01 sshd[99]: Failed password from 192.168.1.1 port 60000 ssh2"
            )
        );
        assert_ne!(
            template("sshd[1]: Failed password"),
            template("nginx[1]: connect() failed (111: Connection refused)")
        );
    }

    #[test]
    fn a_one_off_error_beats_repeated_noise_errors() {
        let mut text = String::new();
        for i in 0..3000 {
            if i == 2100 {
                text.push_str("kernel: EXT4-fs error (device sdb1): ext4_find_entry: reading directory lblock 0\n");
            } else if i % 3 == 0 {
                text.push_str(&format!("sshd[{i}]: error: kex_exchange_identification: Connection closed by remote host port {i}\n"));
            } else {
                text.push_str(&format!(
                    "app[{i}]: INFO handled request {i} in {} ms\n",
                    i % 50
                ));
            }
        }
        let mut sc = SessionChunks::default();
        sc.add_output("T1", "read_journal", "journalctl", &text);
        let sel = sc.select("the site is slow and some writes fail", 1000);
        assert!(
            sel.rendered.contains("EXT4-fs error (device sdb1)"),
            "{}",
            sel.summary()
        );
    }

    #[test]
    fn small_sessions_are_sent_whole() {
        let mut sc = SessionChunks::default();
        sc.add_output(
            "T1",
            "cpu_load",
            "cat /proc/loadavg",
            "0.10 0.20 0.30 1/100 1234",
        );
        let sel = sc.select("load", 4000);
        assert_eq!(sel.chunks.len(), 1);
        assert!(!sel.rendered.contains("not shown"));
    }
}
