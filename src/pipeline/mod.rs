//! What the tasks do: the handlers of every task kind, next to the rules they carry, and the
//! one [`Dispatcher`] the job runner calls. The runner itself (claims, leases, pools) is
//! `jobs`; the persisted kinds and inputs are [`TaskSpec`].

pub mod builds;
pub mod cleanup;
pub mod deploy;
mod hello;

use crate::jobs::{Dispatcher, TaskContext, TaskFuture, TaskOutput};
use crate::store::TaskSpec;
pub use builds::Builds;
pub use cleanup::Cleanup;
pub use deploy::Deploys;

/// The pipeline that runs one app's build and deploy tasks one at a time, in order.
pub fn app_pipeline(org: &str, app: &str) -> String {
    format!("app/{}", crate::store::org_key(org, app))
}

/// Every task handler, dispatched by an exhaustive match: a new task kind does not build
/// until it has one.
pub struct Pipeline {
    pub cleanup: Cleanup,
    pub builds: Builds,
    pub deploys: Deploys,
}

impl Dispatcher for Pipeline {
    fn run(&self, spec: TaskSpec, ctx: TaskContext) -> TaskFuture {
        let builds = self.builds.clone();
        match spec {
            TaskSpec::Hello(params) => {
                Box::pin(async move { hello::run(params, ctx).await.map(TaskOutput::from) })
            }
            TaskSpec::Cleanup(params) => {
                let cleanup = self.cleanup.clone();
                Box::pin(async move { cleanup.run(params).await.map(TaskOutput::from) })
            }
            TaskSpec::Upload(params) => {
                Box::pin(async move { builds.expire_upload(params, ctx).await })
            }
            TaskSpec::Dltar(params) => Box::pin(async move { builds.download(params, ctx).await }),
            TaskSpec::Mkraw(params) => Box::pin(async move { builds.process(params, ctx).await }),
            TaskSpec::Mkseq(params) => Box::pin(async move { builds.train(params, ctx).await }),
            TaskSpec::Deploy(params) => {
                let deploys = self.deploys.clone();
                Box::pin(async move { deploys.run(params, ctx).await })
            }
        }
    }
}
