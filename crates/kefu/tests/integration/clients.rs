//! Real third-party SDKs against the real binary.

use std::process::Command;

use crate::support::{ADMIN, repo_root, spawn};

/// The cached venv's python (scripts/python-venv makes it on first use).
pub fn python() -> String {
    let out = Command::new(repo_root().join("scripts/python-venv"))
        .output()
        .expect("running scripts/python-venv");
    assert!(
        out.status.success(),
        "scripts/python-venv failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn wechatpy_sends_are_accepted_and_refused_as_wechat_would() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(&dir.path().join("data"), &[]);
    let script = repo_root().join("crates/kefu/tests/clients/wechatpy_send.py");
    let out = Command::new(python())
        .arg(&script)
        .args([&server.base, ADMIN])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "wechatpy suite failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("wechatpy: 11 passed, 0 failed"), "{stdout}");
    assert!(server.terminate().success());
}
