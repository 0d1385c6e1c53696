//! One abstraction over every place published files go: the depot and S3 origins. Paths are
//! layout paths ([`super::layout`]); each origin maps them to its own keys.

use std::future::Future;
use std::pin::Pin;

use tokio::io::AsyncRead;

use super::PublishError;

/// The future an origin operation returns.
pub type OriginFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PublishError>> + Send + 'a>>;

/// The bytes of one object, streamed.
pub type Body = Box<dyn AsyncRead + Send + Unpin>;

/// A place published files go.
pub trait Origin: Send + Sync {
    /// Stores `len` bytes read from `body` as the object at `path`, replacing any; fails
    /// when the body ends early or runs long.
    fn put<'a>(&'a self, path: &'a str, body: Body, len: u64) -> OriginFuture<'a, ()>;

    /// Removes every object under the prefix `path`; how many went.
    fn remove_prefix<'a>(&'a self, path: &'a str) -> OriginFuture<'a, u64>;

    /// Bytes stored under the prefix `path`.
    fn prefix_size<'a>(&'a self, path: &'a str) -> OriginFuture<'a, u64>;

    /// Bytes stored under each group of prefixes (an app's, an org's), in one go where the
    /// origin can.
    fn sizes<'a>(&'a self, groups: &'a [Vec<String>]) -> OriginFuture<'a, Vec<u64>> {
        Box::pin(async move {
            let mut sizes = Vec::with_capacity(groups.len());
            for prefixes in groups {
                let mut total = 0;
                for prefix in prefixes {
                    total += self.prefix_size(prefix).await?;
                }
                sizes.push(total);
            }
            Ok(sizes)
        })
    }

    /// Proves the origin takes writes: writes and deletes a probe object.
    fn probe(&self) -> OriginFuture<'_, ()>;

    /// A download URL of the object at `path`, valid until `expires` (Unix seconds).
    fn signed_url<'a>(&'a self, path: &'a str, expires: i64) -> OriginFuture<'a, String>;
}

/// A body that must hold exactly `len` bytes: it fails at its end when it ends early, and as
/// soon as it runs long, so no origin completes a put of the wrong bytes.
pub struct ExactBody {
    inner: Body,
    left: u64,
}

impl ExactBody {
    /// Wraps `body`, announced as `len` bytes.
    pub fn new(inner: Body, len: u64) -> Self {
        Self { inner, left: len }
    }
}

impl AsyncRead for ExactBody {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &polled {
            let read = (buf.filled().len() - before) as u64;
            if read == 0 && self.left > 0 {
                return std::task::Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the body ended {} bytes early", self.left),
                )));
            }
            if read > self.left {
                return std::task::Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the body is longer than announced",
                )));
            }
            self.left -= read;
        }
        polled
    }
}
