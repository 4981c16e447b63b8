//! Bounded capture of command output: keeps the first and last bytes of a stream and counts
//! what was dropped, so a 1 GB log never lives in memory.
//!
//! The rendered text carries a `[… N bytes truncated …]` marker where bytes were dropped.

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
    fn invalid_utf8_is_lossy() {
        let mut c = CappedOutput::new(16);
        c.push(&[0x66, 0xff, 0x6f]);
        assert_eq!(c.into_text().0, "f\u{fffd}o");
    }
}
