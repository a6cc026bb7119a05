//! The Official Account surface through real SDKs: wechatpy (PyPI) and co-wechat-api (npm).

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{ADMIN, repo_root, spawn};

/// Runs one of `scripts/`' installers and answers the path it prints.
fn installed(script: &str) -> String {
    let out = Command::new(repo_root().join("scripts").join(script))
        .output()
        .unwrap_or_else(|e| panic!("running scripts/{script}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs a client script against a fresh kefu and checks its closing line.
fn drive(dir: &Path, program: &str, script: &str, env: &[(&str, &str)], closing: &str) {
    let server = spawn(&dir.join("data"), &[]);
    let script = repo_root().join("crates/kefu/tests/clients").join(script);
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(program)
        .arg(&script)
        .args([&server.base, ADMIN])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&stdout);
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(status.success(), "{script:?} failed:\n{stdout}\n{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(closing) && l.ends_with(" passed, 0 failed")),
        "{stdout}"
    );
    assert!(server.terminate().success());
}

#[test]
fn wechatpy_drives_menus_qr_codes_users_and_kf_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let python = installed("python-venv");
    drive(dir.path(), &python, "wechatpy_oa.py", &[], "wechatpy: ");
}

#[test]
fn co_wechat_api_drives_token_send_menu_and_qr_codes() {
    let dir = tempfile::tempdir().unwrap();
    let modules = installed("node-modules");
    drive(
        dir.path(),
        "node",
        "co_wechat_api.js",
        &[("NODE_PATH", &modules)],
        "co-wechat-api: ",
    );
}
