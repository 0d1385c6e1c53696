//! The backend API (`/be/v1`) handlers, one module per resource; their routes and what each
//! needs are declared in [`super::routes`].

pub(super) mod activities;
pub(super) mod apikeys;
pub(super) mod apps;
pub(super) mod builds;
pub(super) mod credentials;
pub(super) mod deployments;
pub(super) mod keys;
pub(super) mod orgs;
pub(super) mod publishing;
pub(super) mod roles;
pub(super) mod sessions;
pub(super) mod subscriptions;
pub(super) mod tasks;
pub(super) mod trainings;
pub(super) mod users;
