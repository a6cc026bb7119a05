//! kefu-server's one integration-test binary: kefu on a real socket, over a real store, driven
//! over HTTP the way a developer's SDK and kefu's own API clients drive it.

// Test helpers unwrap freely: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod accounts;
mod clock;
mod delivery;
mod metrics;
mod oa_actions;
mod oa_cgi;
mod oa_kf;
mod oa_pushes;
mod openapi;
mod pushes;
mod receiver;
mod rollouts;
mod rulesets;
mod seed;
mod send;
mod snapshot;
mod support;
mod tokens;
