//! Bodies the real kubectl sent as `application/vnd.kubernetes.protobuf` decode to
//! exactly the JSON kubectl prints for the same command with `--dry-run=client -o json`
//! (fixtures and their commands: tests/fixtures/kubectl-protobuf/README.md).

use std::path::Path;

use rudder_api::apply::merge::without_nulls;
use rudder_api::protobuf;
use serde_json::Value;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubectl-protobuf")
}

#[test]
fn kubectl_bodies_decode_to_the_json_kubectl_would_send() {
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("pb") {
            continue;
        }
        let expected_path = path.with_extension("json");
        if !expected_path.exists() {
            continue;
        }
        let body = std::fs::read(&path).unwrap();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let decoded = protobuf::decode(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if without_nulls(&decoded) != without_nulls(&expected) {
            mismatches.push(format!(
                "{}:\n decoded {decoded}\nexpected {expected}",
                path.display()
            ));
        }
        checked += 1;
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(checked >= 20, "only {checked} fixtures");
}

#[test]
fn a_kind_without_a_layout_is_unsupported_media() {
    let body = std::fs::read(fixtures().join("create-job.pb")).unwrap();
    let err = protobuf::decode(&body).unwrap_err();
    assert_eq!(rudder_api::status::from_error(&err).code, Some(415));
    assert!(err.to_string().contains("batch/v1 Job"), "{err}");
}
