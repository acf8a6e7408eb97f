//! The architecture map (README "Architecture") as a test: each module
//! reaches only the layers below it. Every `crate::<module>` path in a
//! source file counts, in a `use` line or inline.

use std::path::{Path, PathBuf};

/// (files under, modules they must not reach, why)
const RULES: &[(&str, &[&str], &str)] = &[
    (
        "cluster/",
        &[
            "config",
            "client",
            "groups",
            "journal",
            "admin",
            "management",
            "transport",
            "ffi",
        ],
        "the engine stands alone: its own settings, no operations, no transport",
    ),
    (
        "node/",
        &[
            "cluster",
            "config",
            "client",
            "groups",
            "journal",
            "admin",
            "management",
            "ffi",
        ],
        "one node knows nothing above it",
    ),
    (
        "journal/",
        &[
            "cluster",
            "config",
            "client",
            "groups",
            "admin",
            "management",
            "node",
            "transport",
            "ffi",
        ],
        "the journal is records and a file",
    ),
    (
        "groups/",
        &[
            "transport",
            "config",
            "client",
            "admin",
            "management",
            "ffi",
        ],
        "operations see the node layer's answer type, never transport's",
    ),
    (
        "admin/",
        &["transport", "config", "client", "groups", "ffi"],
        "as groups",
    ),
    (
        "management.rs",
        &["transport", "config", "client", "groups", "ffi"],
        "as groups",
    ),
    (
        "config/",
        &["transport", "ffi", "testkit"],
        "settings reach the transport through node/ (the builder builds the client)",
    ),
    (
        "retry/",
        &[
            "cluster",
            "config",
            "client",
            "groups",
            "journal",
            "node",
            "transport",
            "admin",
            "management",
        ],
        "a leaf",
    ),
    (
        "transport/",
        &[
            "cluster",
            "config",
            "client",
            "groups",
            "journal",
            "node",
            "admin",
            "management",
            "ffi",
        ],
        "the only code that knows ureq, below everything",
    ),
    (
        "testkit/",
        &[
            "client",
            "config",
            "cluster",
            "groups",
            "journal",
            "node",
            "transport",
            "admin",
            "management",
        ],
        "test nodes hold no client code",
    ),
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
        let p = entry.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The modules `crate::<module>` paths in `text` reach (comments skipped).
fn reached(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let module: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !module.is_empty() {
                out.push(module);
            }
        }
    }
    out
}

#[test]
fn every_import_points_down_the_map() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    assert!(all.len() > 30, "found {} source files", all.len());
    let mut crossings = Vec::new();
    for file in &all {
        let rel = file
            .strip_prefix(&src)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (under, forbidden, why) in RULES {
            if !rel.starts_with(under) {
                continue;
            }
            for module in reached(&text) {
                if forbidden.contains(&module.as_str()) {
                    crossings.push(format!("{rel} reaches crate::{module} ({why})"));
                }
            }
        }
    }
    crossings.sort();
    crossings.dedup();
    assert!(
        crossings.is_empty(),
        "imports crossing the map:\n{}",
        crossings.join("\n")
    );
}

#[test]
fn the_rule_reader_sees_inline_paths_and_skips_comments() {
    let text = "use crate::node::Answer;\nlet x = crate::transport::f(); // crate::client\n";
    assert_eq!(
        reached(text),
        vec!["node".to_string(), "transport".to_string()]
    );
}
