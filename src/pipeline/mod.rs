//! What the tasks do: the handlers of every task kind, next to the rules they carry, and the
//! one [`Dispatcher`] the job runner calls. The runner itself (claims, leases, pools) is
//! `jobs`; the persisted kinds and inputs are [`TaskSpec`].

pub mod cleanup;
mod hello;

use crate::jobs::{Dispatcher, TaskContext, TaskFuture};
use crate::store::TaskSpec;
pub use cleanup::Cleanup;

/// Every task handler, dispatched by an exhaustive match: a new task kind does not build
/// until it has one.
pub struct Pipeline {
    pub cleanup: Cleanup,
}

impl Dispatcher for Pipeline {
    fn run(&self, spec: TaskSpec, ctx: TaskContext) -> TaskFuture {
        match spec {
            TaskSpec::Hello(params) => Box::pin(hello::run(params, ctx)),
            TaskSpec::Cleanup(params) => {
                let cleanup = self.cleanup.clone();
                Box::pin(async move { cleanup.run(params).await })
            }
        }
    }
}
