//! Flood control as a token bucket: `burst` lines at full speed, then
//! `rate` lines a second. A line that finds the bucket empty waits (fakelag)
//! instead of being refused; the connection decides when a client is so far
//! behind that it is flooding (its unprocessed input passes `recvq`).

use tokio::time::Instant;

pub struct Bucket {
    tokens: f64,
    last: Instant,
    burst: f64,
    rate: f64,
}

impl Bucket {
    pub fn new(burst: u32, rate: f64, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(burst),
            last: now,
            burst: f64::from(burst),
            rate,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }

    /// May a line be processed now?
    pub fn ready(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    /// Accounts for a processed line that costs `lines` (one for most; a
    /// multiline batch is charged by its size when it ends, and may take
    /// the bucket below zero, which delays the lines after it).
    pub fn take(&mut self, lines: u32) {
        self.tokens -= f64::from(lines);
    }

    /// When the next line may be processed.
    pub fn ready_at(&self) -> Instant {
        let missing = (1.0 - self.tokens).max(0.0);
        self.last + std::time::Duration::from_secs_f64(missing / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(3, 2.0, t0);
        for _ in 0..3 {
            assert!(b.ready(t0));
            b.take(1);
        }
        assert!(!b.ready(t0));
        assert_eq!(b.ready_at(), t0 + Duration::from_millis(500));
        assert!(b.ready(t0 + Duration::from_millis(500)));
        b.take(1);
        assert!(!b.ready(t0 + Duration::from_millis(600)));
        // Idle time refills up to the burst, no further.
        assert!(b.ready(t0 + Duration::from_secs(100)));
        for _ in 0..3 {
            b.take(1);
        }
        assert!(!b.ready(t0 + Duration::from_secs(100)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_big_charge_delays_by_its_size() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10, 2.0, t0);
        // A multiline batch worth 9 lines, then one more line: free.
        b.take(9);
        assert!(b.ready(t0));
        b.take(1);
        // Another worth 9: the next line waits 5 s, until the bucket is back
        // to one token at 2 a second.
        b.take(9);
        assert!(!b.ready(t0));
        assert_eq!(b.ready_at(), t0 + Duration::from_millis(5000));
        b.take(0);
        assert!(b.ready(t0 + Duration::from_secs(5)));
    }
}
