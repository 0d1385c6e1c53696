//! rockit-edge: a self-hosted ROCKIT Edge appliance.
pub mod engine;
