//! kefu-wechat's one integration-test binary (one executable keeps linking cheap on two
//! cores): every published crypto vector as a test, and the property tests.

// Test helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "integration/properties.rs"]
mod properties;
#[path = "integration/vectors.rs"]
mod vectors;
