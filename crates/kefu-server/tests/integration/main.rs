//! kefu-server's one integration-test binary: kefu on a real socket, over a real store, driven
//! over HTTP the way a developer's SDK and kefu's own API clients drive it.

// Test helpers unwrap freely: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod accounts;
mod clock;
mod metrics;
mod oa_actions;
mod oa_cgi;
mod oa_kf;
mod openapi;
mod rollouts;
mod rulesets;
mod seed;
mod send;
mod support;
mod tokens;
