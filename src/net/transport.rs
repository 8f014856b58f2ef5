//! Line transports: how a connection reads lines and writes them. The
//! session loop (`session.rs`) is the same for every transport; a transport
//! only frames. TCP and TLS streams use the CRLF codec and a writer that
//! coalesces everything queued into one write; a WebSocket transport (one
//! IRC line per message) fits the same two traits.

use std::{collections::VecDeque, future::Future, io};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::{
    proto::codec::{Frame, LineCodec},
    state::ClientRef,
};

/// The reading half of a transport.
pub trait LineReader: Send {
    /// The next complete line already read, if any.
    fn next_frame(&mut self) -> Option<Frame>;
    /// Bytes read but not yet processed (flood control's recvq).
    fn backlog(&self) -> usize;
    /// Is a complete line waiting?
    fn has_line(&self) -> bool;
    /// Reads more from the peer; Ok(0) at end of stream. Cancel-safe.
    fn read(&mut self) -> impl Future<Output = io::Result<usize>> + Send;
    /// The connection is quiet: give back buffers a burst grew.
    fn relax(&mut self);
}

/// The writing half of a transport.
pub trait LineWriter: Send + 'static {
    /// Writes lines (CRLF included), in order.
    fn write_lines(
        &mut self,
        lines: VecDeque<Bytes>,
    ) -> impl Future<Output = io::Result<()>> + Send;
    /// Closes the transport after the last line.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

/// Bytes read at a time; also what an idle client's read buffer holds.
const READ_CHUNK: usize = 256;
/// Bytes read at a time after a read that filled the buffer.
const BUSY_READ_CHUNK: usize = 4096;

/// A byte stream (TCP, TLS) framed by the CRLF codec.
pub struct StreamReader<R> {
    rd: R,
    codec: LineCodec,
    buf: BytesMut,
    /// The last read filled the buffer: read bigger chunks (fewer syscalls).
    busy: bool,
}

pub struct StreamWriter<W> {
    w: W,
}

/// Splits a byte stream into the two halves of a line transport.
pub fn stream<S>(s: S) -> (StreamReader<ReadHalf<S>>, StreamWriter<WriteHalf<S>>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, w) = tokio::io::split(s);
    (
        StreamReader {
            rd,
            codec: LineCodec::new(),
            buf: BytesMut::new(),
            busy: false,
        },
        StreamWriter { w },
    )
}

impl<R: AsyncRead + Unpin + Send> LineReader for StreamReader<R> {
    fn next_frame(&mut self) -> Option<Frame> {
        self.codec.decode(&mut self.buf)
    }

    fn backlog(&self) -> usize {
        self.buf.len()
    }

    fn has_line(&self) -> bool {
        self.codec.has_line(&self.buf)
    }

    async fn read(&mut self) -> io::Result<usize> {
        self.buf.reserve(if self.busy {
            BUSY_READ_CHUNK
        } else {
            READ_CHUNK
        });
        let before = self.buf.len();
        let n = self.rd.read_buf(&mut self.buf).await?;
        self.busy = before + n >= self.buf.capacity();
        Ok(n)
    }

    fn relax(&mut self) {
        // An idle client keeps a small read buffer; a burst grows it, and it
        // shrinks back once drained.
        if self.buf.is_empty() && !self.busy && self.buf.capacity() > READ_CHUNK {
            self.buf = BytesMut::new();
        }
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> LineWriter for StreamWriter<W> {
    async fn write_lines(&mut self, lines: VecDeque<Bytes>) -> io::Result<()> {
        // Everything queued since the last write goes out in one write.
        if lines.len() == 1 {
            self.w.write_all(&lines[0]).await?;
        } else {
            let mut buf = BytesMut::with_capacity(lines.iter().map(Bytes::len).sum());
            for b in &lines {
                buf.extend_from_slice(b);
            }
            self.w.write_all(&buf).await?;
        }
        self.w.flush().await
    }

    async fn close(&mut self) {
        let _ = self.w.shutdown().await;
    }
}

/// The writer task: drains the client's send queue into the transport.
/// Buffers grown by a burst are dropped after it, so an idle client holds
/// none.
pub async fn write_loop<W: LineWriter>(mut w: W, client: ClientRef) {
    while let Some(batch) = client.sendq.take_all().await {
        if w.write_lines(batch).await.is_err() {
            client.sendq.kill(super::session::WRITE_ERROR);
            return;
        }
    }
    w.close().await;
}
