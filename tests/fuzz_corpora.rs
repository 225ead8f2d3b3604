//! The fuzz targets' saved corpora and the inputs that once crashed them
//! (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`), replayed on
//! stable through the same property checks (`picket::fuzzing`), so every
//! test run repeats what the fuzzers found. The targets themselves run
//! with cargo-fuzz on nightly: see fuzz/README.md.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let d = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz")
            .join(dir)
            .join(target);
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let data = std::fs::read(&p).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: {} fails", p.display());
            n += 1;
        }
    }
    n
}

#[test]
fn decode_corpus() {
    assert!(replay("decode", picket::fuzzing::decode_agrees) > 50);
}

#[test]
fn readers_corpus() {
    assert!(replay("readers", picket::fuzzing::readers_agree) > 10);
}

#[test]
fn pipeline_corpus() {
    assert!(replay("pipeline", picket::fuzzing::pipeline_threads_agree) > 10);
}
