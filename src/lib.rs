//! rockit-edge: a self-hosted ROCKIT Edge appliance.
//!
//! Layers, in one direction: `http` → `domain` → `pipeline` (what tasks do) → `store` /
//! `publish` / `jobs` (the runner); `notify` delivers the event outbox; `ops` holds the operator's checks; `engine` is pure
//! processing; `server` wires them together; `cli` is the command line; `push` is the
//! publisher's client of the upload API; `client` is the launcher's (the reference client).
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod client;
pub mod codes;
pub mod config;
pub mod crashpoints;
pub mod datadir;
pub mod domain;
pub mod engine;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod pipeline;
pub mod publish;
pub mod push;
pub mod server;
pub mod store;
pub mod workers;
