//! The reference launcher client: what a launcher does with an app's published files, built on
//! the engine's own readers (one implementation of the formats).
//!
//! A Rust launcher embeds it as a library; `rockit-edge client ...` is its command line.
//!
//! ```text
//! let client = Client::new(ClientOptions { origin: Origin::Server(server), limit_rate: None })?;
//! let report = client.install(Path::new("games/racer")).await?;   // or update, play
//! let bad = client::verify(Path::new("games/racer"))?;              // files that differ
//! ```
//!
//! - [`Client::install`] puts the app's current build in a directory, resumable: the state in
//!   `DIR/.rockit/` records which chunks of the image are present (each checked against its
//!   SHA-256 as it arrives), and every file's MD5 is checked before the install counts.
//! - [`verify`] re-hashes an installed tree against its index.
//!
//! Downloads are parallel range requests over one connection pool, retried with backoff,
//! re-authorized when signed URLs expire, and paced by an optional client-side rate limit.

mod download;
mod error;
pub mod http;
mod install;
mod layout;
mod limit;
mod oldtree;
mod origin;
mod patching;
mod play;
mod release;
mod report;
mod script;
mod state;
mod tree;
mod update;

pub use error::ClientError;
pub use http::TraceReceipt;
pub use install::Client;
pub use limit::RateLimit;
pub use play::TraceOutputs;
pub use release::{Origin, ServerOptions};
pub use report::{PlayReport, Report};
pub use tree::verify;

use std::sync::atomic::AtomicU64;

/// How a client reaches the build and how fast it may download.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The appliance, or a local image directory.
    pub origin: Origin,
    /// Bytes per second at most over all downloads (a player's link), or unlimited.
    pub limit_rate: Option<u64>,
}

/// Bytes fetched so far and the bytes this run expects to fetch, for a progress display.
#[derive(Debug, Default)]
pub struct Meter {
    /// Bytes received.
    pub fetched: AtomicU64,
    /// Bytes to receive in all.
    pub total: AtomicU64,
}
