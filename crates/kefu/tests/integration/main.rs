//! The `kefu` binary as a user runs it: real processes, real SDKs, real crashes.

// Test helpers unwrap freely: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod clients;
mod clients_oa;
mod crash;
mod logs;
mod receivers;
mod replay;
mod seed;
mod support;
