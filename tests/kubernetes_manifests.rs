//! deploy/kubernetes validated against the Kubernetes schemas
//! (kubernetes-validate, strict) and cross-checked (headless UDP Service, drain
//! shorter than the grace period, mounted secrets made by cert-manager...).

use std::path::{Path, PathBuf};
use std::process::Command;

fn venv_bin(name: &str) -> PathBuf {
    let python = std::env::var_os("PINGPONG_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/python")
        });
    let path = python.parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} not found: run scripts/test (it creates the venv)",
        path.display()
    );
    path
}

fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

#[test]
fn core_manifests_pass_strict_schema_validation() {
    let files = [
        "service.yaml",
        "statefulset.yaml",
        "pdb.yaml",
        "networkpolicy.yaml",
        "examples/client-job.yaml",
    ];
    let out = Command::new(venv_bin("kubernetes-validate"))
        .arg("--strict")
        .args(files.iter().map(|f| manifests().join(f)))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.matches(" passed for resource ").count(),
        files.len(),
        "{text}"
    );
}

#[test]
fn manifests_fit_together() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_manifests.py");
    let out = Command::new(venv_bin("python"))
        .arg(script)
        .arg(manifests())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
