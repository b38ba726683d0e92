//! Replays the committed corpus through both targets on any toolchain: every input
//! that once crashed (and every seed) runs on each `make fuzz`, instrumented or not.

use std::path::Path;

fn replay(target: &str, exercise: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("{target}: {}", path.display());
        exercise(&data);
        inputs += 1;
    }
    assert!(inputs > 0, "{} holds no inputs", dir.display());
}

#[test]
fn request_corpus() {
    replay("request", rudder_fuzz::request::exercise);
}

#[test]
fn patch_corpus() {
    replay("patch", rudder_fuzz::patch::exercise);
}
