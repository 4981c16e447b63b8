//! Bounded capture of command output: keeps the first and last bytes of a stream and counts
//! what was dropped, so a 1 GB log never lives in memory.
//!
//! The rendered text carries a `[… N bytes truncated …]` marker where bytes were dropped.
//! [`RedactedCapture`] is what transports use: the stream is redacted as it arrives
//! ([`crate::redact::StreamRedactor`]), before the cap decides what to keep, so a secret whose
//! start falls into the dropped middle cannot leave its rest in the kept tail.
use crate::redact::StreamRedactor;

/// One output stream of a command: redacted as it arrives, then capped.
#[derive(Debug, Clone)]
pub struct RedactedCapture {
    redactor: StreamRedactor,
    cap: CappedOutput,
    scratch: Vec<u8>,
    received: u64,
}

impl RedactedCapture {
    pub fn new(cap: usize) -> Self {
        Self {
            redactor: StreamRedactor::new(),
            cap: CappedOutput::new(cap),
            scratch: Vec::new(),
            received: 0,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.received += data.len() as u64;
        self.scratch.clear();
        self.redactor.push(data, &mut self.scratch);
        self.cap.push(&self.scratch);
    }

    /// Bytes received from the host, before redaction.
    pub fn received_bytes(&self) -> u64 {
        self.received
    }

    /// Flush the redactor's last partial line and render (see [`CappedOutput::into_text`]).
    pub fn into_text(mut self) -> (String, u64) {
        self.scratch.clear();
        self.redactor.finish(&mut self.scratch);
        self.cap.push(&self.scratch);
        self.cap.into_text()
    }
}

/// Keeps at most `cap` bytes: the first half as they arrive, the last half in a ring.
#[derive(Debug, Clone)]
pub struct CappedOutput {
    cap: usize,
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    total: u64,
}

impl CappedOutput {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            head: Vec::new(),
            tail: std::collections::VecDeque::new(),
            total: 0,
        }
    }

    fn head_cap(&self) -> usize {
        self.cap / 2
    }

    fn tail_cap(&self) -> usize {
        self.cap - self.head_cap()
    }

    pub fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        let room = self.head_cap().saturating_sub(self.head.len());
        if room > 0 {
            let n = room.min(data.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        let tail_cap = self.tail_cap();
        if tail_cap == 0 {
            return;
        }
        if data.len() >= tail_cap {
            self.tail.clear();
            self.tail.extend(&data[data.len() - tail_cap..]);
            return;
        }
        let overflow = (self.tail.len() + data.len()).saturating_sub(tail_cap);
        self.tail.drain(..overflow);
        self.tail.extend(data);
    }

    /// Total bytes seen, kept or not.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Bytes dropped from the middle.
    pub fn dropped_bytes(&self) -> u64 {
        self.total - (self.head.len() + self.tail.len()) as u64
    }

    /// Render as text: invalid UTF-8 decoded lossily, a marker where bytes were dropped.
    pub fn into_text(self) -> (String, u64) {
        let dropped = self.dropped_bytes();
        let (a, b) = self.tail.as_slices();
        let mut tail = Vec::with_capacity(a.len() + b.len());
        tail.extend_from_slice(a);
        tail.extend_from_slice(b);
        if dropped == 0 {
            let mut all = self.head;
            all.extend_from_slice(&tail);
            return (String::from_utf8_lossy(&all).into_owned(), 0);
        }
        let text = format!(
            "{}\n[… {dropped} bytes truncated …]\n{}",
            String::from_utf8_lossy(&self.head),
            String::from_utf8_lossy(&tail)
        );
        (text, dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut c = CappedOutput::new(100);
        c.push(b"hello ");
        c.push(b"world");
        assert_eq!(c.into_text(), ("hello world".to_string(), 0));
    }

    #[test]
    fn large_output_keeps_head_and_tail() {
        let mut c = CappedOutput::new(10);
        for chunk in [b"AAAAA".as_slice(), b"bbbbbbbbbbbbbbbbbbbb", b"ZZZZZ"] {
            c.push(chunk);
        }
        let (text, dropped) = c.into_text();
        assert_eq!(dropped, 20);
        assert!(
            text.starts_with("AAAAA\n[… 20 bytes truncated …]\n"),
            "{text}"
        );
        assert!(text.ends_with("ZZZZZ"), "{text}");
    }

    #[test]
    fn byte_at_a_time_matches_bulk() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut a = CappedOutput::new(64);
        let mut b = CappedOutput::new(64);
        a.push(&data);
        for x in &data {
            b.push(std::slice::from_ref(x));
        }
        assert_eq!(a.into_text(), b.into_text());
    }

    #[test]
    fn a_key_whose_begin_line_is_dropped_by_the_cap_leaves_no_body() {
        let mut c = RedactedCapture::new(4096);
        let filler = "x".repeat(99) + "\n";
        for _ in 0..50_000 {
            c.push(filler.as_bytes());
        }
        c.push(b"-----BEGIN RSA PRIVATE KEY-----\n");
        for _ in 0..2_000 {
            c.push(b"MIIEpAIBAAKCAQEAsecretbodysecretbody\n");
        }
        c.push(b"-----END RSA PRIVATE KEY-----\ntail line\n");
        let (text, dropped) = c.into_text();
        assert!(dropped > 0);
        assert!(!text.contains("secretbody"), "{text}");
        assert!(text.ends_with("tail line\n"), "{text}");
    }

    #[test]
    fn invalid_utf8_is_lossy() {
        let mut c = CappedOutput::new(16);
        c.push(&[0x66, 0xff, 0x6f]);
        assert_eq!(c.into_text().0, "f\u{fffd}o");
    }
}
