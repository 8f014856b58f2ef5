//! The bounded outbound queue every client has.
//!
//! Producers (any task delivering a line to this client) push shared `Bytes`:
//! a line for a thousand channel members is serialized once and the same
//! buffer is queued to each. The connection's writer takes everything queued
//! at once and writes it in one go (writes coalesce per wakeup). When the
//! queued bytes would pass the limit, the queue is dropped and the client is
//! killed with "SendQ exceeded"; the producer never waits and never grows
//! memory for a client that does not read.
//!
//! The queue also paces its own client: the connection reads the next line,
//! and produces the next piece of a long reply, only while the queue has
//! room ([`SendQ::has_room`]); the writer wakes it ([`SendQ::drained`]) each
//! time it takes what is queued.

use std::collections::VecDeque;

use parking_lot::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The kill reason of a send queue past its bound (also the session's
/// sign that it must not wait to flush).
pub const SENDQ_EXCEEDED: &str = "SendQ exceeded";

pub struct SendQ {
    inner: Mutex<Inner>,
    /// Wakes the writer.
    ready: Notify,
    /// Wakes the connection when the writer has taken what was queued.
    drained: Notify,
    /// Cancelled when the connection must end; the reason is in `Inner`.
    killed: CancellationToken,
    /// Bytes; set from the connection's class (at admission, and again if
    /// an account class takes it at registration).
    limit: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Bytes>,
    bytes: usize,
    /// No more lines are accepted; the writer flushes what is queued and stops.
    closed: bool,
    /// Why the connection is being ended by someone other than the client.
    kill_reason: Option<String>,
}

impl SendQ {
    pub fn new(limit: usize) -> Self {
        SendQ {
            inner: Mutex::default(),
            ready: Notify::new(),
            drained: Notify::new(),
            killed: CancellationToken::new(),
            limit: limit.into(),
        }
    }

    /// Queues one line. Returns false when the line was not queued (the queue
    /// is closed, or it overflowed and the client is now being disconnected).
    pub fn push(&self, line: Bytes) -> bool {
        let mut inner = self.inner.lock();
        if inner.closed {
            return false;
        }
        if inner.bytes + line.len() > self.limit() {
            inner.queue.clear();
            inner.bytes = 0;
            inner.closed = true;
            inner
                .kill_reason
                .get_or_insert_with(|| SENDQ_EXCEEDED.to_string());
            drop(inner);
            self.killed.cancel();
            self.ready.notify_one();
            self.drained.notify_one();
            return false;
        }
        inner.bytes += line.len();
        inner.queue.push_back(line);
        drop(inner);
        self.ready.notify_one();
        true
    }

    /// Asks the connection to end with `reason` (KILL, shutdown, a ghost).
    /// Lines already queued are still written.
    pub fn kill(&self, reason: &str) {
        self.inner
            .lock()
            .kill_reason
            .get_or_insert_with(|| reason.to_string());
        self.killed.cancel();
        self.drained.notify_one();
    }

    /// Resolves once the connection has been asked to end.
    pub async fn killed(&self) {
        self.killed.cancelled().await
    }

    pub fn kill_reason(&self) -> Option<String> {
        self.inner.lock().kill_reason.clone()
    }

    /// Accepts no more lines; the writer stops once the queue is empty.
    pub fn close(&self) {
        self.inner.lock().closed = true;
        self.ready.notify_one();
    }

    pub fn queued_bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    pub fn limit(&self) -> usize {
        self.limit.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_limit(&self, limit: usize) {
        self.limit
            .store(limit, std::sync::atomic::Ordering::Relaxed);
    }

    /// May the client's own replies add `bytes` now? Its own output may
    /// fill half the queue; the other half is kept for what other clients
    /// send it, so a long reply never overflows the queue by itself.
    pub fn has_room(&self, bytes: usize) -> bool {
        let queued = self.queued_bytes();
        queued == 0 || queued + bytes <= self.limit() / 2
    }

    /// Resolves when the writer next takes what is queued (or the queue is
    /// closed or killed).
    pub async fn drained(&self) {
        self.drained.notified().await
    }

    /// For the writer: waits until lines are queued and takes them all,
    /// queue and its capacity included, so that a burst (a JOIN storm) leaves
    /// no large buffer behind. Returns None when the queue is closed and empty
    /// (stop writing).
    pub async fn take_all(&self) -> Option<VecDeque<Bytes>> {
        loop {
            {
                let mut inner = self.inner.lock();
                if !inner.queue.is_empty() {
                    inner.bytes = 0;
                    let all = std::mem::take(&mut inner.queue);
                    drop(inner);
                    self.drained.notify_one();
                    return Some(all);
                }
                if inner.closed {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overflow_kills_and_drops() {
        let q = SendQ::new(10);
        assert!(q.push(Bytes::from_static(b"12345")));
        assert!(q.push(Bytes::from_static(b"12345")));
        assert!(!q.push(Bytes::from_static(b"1")));
        assert_eq!(q.kill_reason().as_deref(), Some("SendQ exceeded"));
        assert_eq!(q.queued_bytes(), 0);
        q.killed().await;
        assert!(q.take_all().await.is_none());
    }

    #[tokio::test]
    async fn close_flushes_first() {
        let q = SendQ::new(100);
        q.push(Bytes::from_static(b"a"));
        q.close();
        assert!(!q.push(Bytes::from_static(b"b")));
        assert_eq!(q.take_all().await.map(|b| b.len()), Some(1));
        assert!(q.take_all().await.is_none());
    }
}
