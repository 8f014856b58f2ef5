//! The response buffer: what a command says to the client that sent it.
//!
//! Handlers push lines, open and close batches (nested as deep as needed),
//! and hand long replies over as producers that make one line at a time. The
//! connection turns the buffer into the lines on the wire with
//! [`Response::into_lines`]: the labeled-response label on a single reply,
//! an ACK for none, a `labeled-response` batch around several; and it pulls
//! those lines only as fast as the client's send queue drains, so a LIST over
//! ten thousand channels is made while the client reads it.

use std::{
    collections::VecDeque,
    sync::atomic::{AtomicU64, Ordering},
};

use bytes::Bytes;

use crate::{
    proto::{
        Line,
        caps::Cap,
        line::{add_tags, has_tag},
        message::escape_tag_value,
    },
    state::{ClientRef, State},
};

/// Makes the lines of a long reply one at a time; None when done.
pub type Producer = Box<dyn FnMut(&State) -> Option<Bytes> + Send>;

/// A batch opened in a response, to close with [`Response::end_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRef(usize);

enum Item {
    Line(Bytes, Option<usize>),
    Stream(Producer, Option<usize>),
    Start(usize),
    End(usize),
}

struct Batch {
    kind: String,
    params: Vec<String>,
    /// The batch it is nested in, if any.
    parent: Option<usize>,
    id: String,
}

#[derive(Default)]
pub struct Response {
    items: VecDeque<Item>,
    batches: Vec<Batch>,
    open: Vec<usize>,
    lines: usize,
    streams: usize,
    /// The response is a batch of its own (a draft/multiline echo): a
    /// label goes on its first line, with no labeled-response batch.
    label_first: bool,
}

static BATCH_IDS: AtomicU64 = AtomicU64::new(1);

/// A batch reference unique for the life of the process.
pub(crate) fn batch_id() -> String {
    format!("b{:x}", BATCH_IDS.fetch_add(1, Ordering::Relaxed))
}

impl Response {
    pub fn new() -> Self {
        Self::default()
    }

    fn current(&self) -> Option<usize> {
        self.open.last().copied()
    }

    /// Adds one line (in the innermost open batch).
    pub fn push(&mut self, line: Bytes) {
        self.lines += 1;
        let b = self.current();
        self.items.push_back(Item::Line(line, b));
    }

    /// Marks the response as a batch of its own: a labeled-response label
    /// goes on its first line (the multiline spec's rule for echoes).
    pub fn label_first_line(&mut self) {
        self.label_first = true;
    }

    /// Adds a long reply, made one line at a time as the client reads.
    pub fn stream(&mut self, producer: Producer) {
        self.streams += 1;
        let b = self.current();
        self.items.push_back(Item::Stream(producer, b));
    }

    /// Opens a batch of `kind` (inside the innermost open one).
    pub fn start_batch(&mut self, kind: &str, params: &[&str]) -> BatchRef {
        let i = self.batches.len();
        self.batches.push(Batch {
            kind: kind.to_string(),
            params: params.iter().map(|p| p.to_string()).collect(),
            parent: self.current(),
            id: batch_id(),
        });
        self.open.push(i);
        self.items.push_back(Item::Start(i));
        BatchRef(i)
    }

    pub fn end_batch(&mut self, b: BatchRef) {
        if let Some(pos) = self.open.iter().rposition(|&i| i == b.0) {
            self.open.truncate(pos);
            self.items.push_back(Item::End(b.0));
        }
    }

    /// Appends what `other` says after what this one says (the second
    /// phase of a command with a job).
    pub fn append(&mut self, other: Response) {
        let shift = self.batches.len();
        let tail = self.open.last().copied();
        let moved = |b: Option<usize>| b.map(|i| i + shift).or(tail);
        for item in other.items {
            self.items.push_back(match item {
                Item::Line(l, b) => Item::Line(l, moved(b)),
                Item::Stream(p, b) => Item::Stream(p, moved(b)),
                Item::Start(i) => Item::Start(i + shift),
                Item::End(i) => Item::End(i + shift),
            });
        }
        for mut b in other.batches {
            b.parent = b.parent.map(|i| i + shift).or(tail);
            self.batches.push(b);
        }
        self.open.extend(other.open.into_iter().map(|i| i + shift));
        self.lines += other.lines;
        self.streams += other.streams;
        self.label_first |= other.label_first;
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Moves everything out (to deliver it now), leaving an empty buffer.
    pub fn take(&mut self) -> Response {
        std::mem::take(self)
    }

    /// The lines on the wire for `client`, wrapped for its labeled-response
    /// `label` if it sent one.
    pub fn into_lines(self, client: &ClientRef, label: Option<&str>, server: &str) -> Lines {
        let batch_cap = client.has_cap(Cap::Batch.bit());
        let mut outer = None;
        let mut prologue = VecDeque::new();
        let mut label_next = None;
        let mut tag = String::new();
        if let Some(label) = label {
            tag.push_str("label=");
            escape_tag_value(label, &mut tag);
            let single = self.streams == 0 && self.lines == 1 && self.batches.is_empty();
            if self.items.is_empty() {
                let ack = client.stamp(Line::new(Some(server), "ACK").build());
                prologue.push_back(add_tags(&tag, &ack));
            } else if single || !batch_cap || self.label_first {
                // One line carries the label; without batch, the first does.
                label_next = Some(tag.clone());
            } else {
                let id = batch_id();
                let start = Line::new(Some(server), "BATCH")
                    .arg(&format!("+{id}"))
                    .arg("labeled-response")
                    .build();
                prologue.push_back(add_tags(&tag, &client.stamp(start)));
                outer = Some(id);
            }
        }
        Lines {
            client: client.clone(),
            server: server.to_string(),
            items: self.items,
            batches: self.batches,
            batch_cap,
            outer,
            prologue,
            label_next,
            current: None,
            done: false,
        }
    }
}

/// The wire lines of one response, made on demand.
pub struct Lines {
    client: ClientRef,
    server: String,
    items: VecDeque<Item>,
    batches: Vec<Batch>,
    batch_cap: bool,
    outer: Option<String>,
    prologue: VecDeque<Bytes>,
    label_next: Option<String>,
    current: Option<(Producer, Option<usize>)>,
    done: bool,
}

impl Lines {
    /// The batch tag for a line inside batch `b` (or the outer labeled one).
    fn batch_tag(&self, b: Option<usize>) -> Option<String> {
        if !self.batch_cap {
            return None;
        }
        match b {
            Some(i) => Some(format!("batch={}", self.batches[i].id)),
            None => self.outer.as_ref().map(|id| format!("batch={id}")),
        }
    }

    fn finish(&mut self, line: Bytes, b: Option<usize>) -> Bytes {
        let mut line = self.client.stamp(line);
        // A line made inside a nested batch of its own (a multiline message
        // replayed from history) keeps its batch tag alone.
        if let Some(t) = self.batch_tag(b)
            && !has_tag(&line, "batch")
        {
            line = add_tags(&t, &line);
        }
        if let Some(label) = self.label_next.take() {
            line = add_tags(&label, &line);
        }
        line
    }

    /// The next line to queue, or None when the response is complete.
    pub fn next(&mut self, state: &State) -> Option<Bytes> {
        if let Some(l) = self.prologue.pop_front() {
            return Some(l);
        }
        loop {
            if let Some((p, b)) = self.current.as_mut() {
                let b = *b;
                match p(state) {
                    Some(line) => return Some(self.finish(line, b)),
                    None => self.current = None,
                }
            }
            let Some(item) = self.items.pop_front() else {
                if self.done {
                    return None;
                }
                self.done = true;
                let id = self.outer.take()?;
                let end = Line::new(Some(&self.server), "BATCH")
                    .arg(&format!("-{id}"))
                    .build();
                return Some(self.client.stamp(end));
            };
            match item {
                Item::Line(l, b) => return Some(self.finish(l, b)),
                Item::Stream(p, b) => self.current = Some((p, b)),
                Item::Start(i) if self.batch_cap => {
                    let b = &self.batches[i];
                    let start = Line::new(Some(&self.server), "BATCH")
                        .arg(&format!("+{}", b.id))
                        .arg(&b.kind)
                        .args(b.params.iter().map(String::as_str))
                        .build();
                    let parent = b.parent;
                    return Some(self.finish(start, parent));
                }
                Item::End(i) if self.batch_cap => {
                    let b = &self.batches[i];
                    let end = Line::new(Some(&self.server), "BATCH")
                        .arg(&format!("-{}", b.id))
                        .build();
                    let parent = b.parent;
                    return Some(self.finish(end, parent));
                }
                Item::Start(_) | Item::End(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Config, proto::caps::Cap, state::State};

    fn text(l: &Bytes) -> String {
        String::from_utf8_lossy(l).trim_end().to_string()
    }

    /// Nested batches inside a labeled-response batch, and a producer,
    /// come out tagged with the right batch each.
    #[test]
    fn nested_batches_and_producers_under_a_label() {
        let state = State::new(std::sync::Arc::new(Config::defaults()));
        let client = state.add_client("127.0.0.1".parse().unwrap(), false);
        client.set_caps(Cap::Batch.bit() | Cap::LabeledResponse.bit());
        let mut r = Response::new();
        r.push(Bytes::from_static(b":s NOTICE * :first\r\n"));
        let outer = r.start_batch("chathistory", &["#c"]);
        r.push(Bytes::from_static(b":s NOTICE * :in outer\r\n"));
        let inner = r.start_batch("draft/multiline", &["#c"]);
        let mut n = 0;
        r.stream(Box::new(move |_| {
            n += 1;
            (n <= 2).then(|| Bytes::from(format!(":s NOTICE * :made {n}\r\n")))
        }));
        r.end_batch(inner);
        r.end_batch(outer);
        let mut lines = r.into_lines(&client, Some("L"), "s");
        let mut out = Vec::new();
        while let Some(l) = lines.next(&state) {
            out.push(text(&l));
        }
        let id = |l: &str, prefix: &str| {
            l.split(' ')
                .find_map(|w| w.strip_prefix(prefix))
                .unwrap_or("")
                .to_string()
        };
        assert!(out[0].starts_with("@label=L :s BATCH +"), "{out:?}");
        assert!(out[0].ends_with("labeled-response"));
        let lr = id(&out[0], "+");
        assert!(out[1].starts_with(&format!("@batch={lr} ")), "{out:?}");
        assert!(out[2].contains("BATCH +") && out[2].contains("chathistory #c"));
        let ch = id(&out[2], "+");
        assert!(out[2].starts_with(&format!("@batch={lr} ")));
        assert!(out[3].starts_with(&format!("@batch={ch} ")) && out[3].ends_with("in outer"));
        let ml = id(&out[4], "+");
        assert!(out[4].starts_with(&format!("@batch={ch} ")));
        assert!(out[5].starts_with(&format!("@batch={ml} ")) && out[5].ends_with("made 1"));
        assert!(out[6].ends_with("made 2"));
        assert!(
            out[7].starts_with(&format!("@batch={ch} "))
                && out[7].ends_with(&format!("BATCH -{ml}"))
        );
        assert!(
            out[8].starts_with(&format!("@batch={lr} "))
                && out[8].ends_with(&format!("BATCH -{ch}"))
        );
        assert_eq!(out[9], format!(":s BATCH -{lr}"));
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn a_single_reply_carries_the_label_and_none_gets_ack() {
        let state = State::new(std::sync::Arc::new(Config::defaults()));
        let client = state.add_client("127.0.0.1".parse().unwrap(), false);
        client.set_caps(Cap::Batch.bit() | Cap::LabeledResponse.bit());
        let mut one = Response::new();
        one.push(Bytes::from_static(b":s PONG s :x\r\n"));
        let mut l = one.into_lines(&client, Some("a"), "s");
        assert_eq!(text(&l.next(&state).unwrap()), "@label=a :s PONG s :x");
        assert!(l.next(&state).is_none());
        let mut none = Response::new().into_lines(&client, Some("b"), "s");
        assert_eq!(text(&none.next(&state).unwrap()), "@label=b :s ACK");
        assert!(none.next(&state).is_none());
    }
}
