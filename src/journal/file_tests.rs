//! The journal's file on a real file system, in a temp dir.

use super::*;
use crate::journal::record::tests_support::sample;

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cluster-client-journal-{name}-{}-{}",
        std::process::id(),
        crate::random::random_u64()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn kind(e: &Error) -> Option<JournalErrorKind> {
    match e {
        Error::Journal { kind, .. } => Some(*kind),
        _ => None,
    }
}

#[test]
fn a_second_client_cannot_open_a_locked_journal() {
    let d = dir("locked");
    let path = d.join("j");
    let j = Journal::open(&path).unwrap();
    j.append(&sample(), true).unwrap();
    let second = Journal::open(&path).unwrap_err();
    assert_eq!(kind(&second), Some(JournalErrorKind::Locked), "{second}");
    assert_eq!(j.read_all().unwrap(), sample());
    drop(j);
    assert_eq!(Journal::open(&path).unwrap().read_all().unwrap(), sample());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_torn_or_zero_filled_tail_is_cut_on_open_and_nothing_else() {
    let d = dir("torn");
    let path = d.join("j");
    let whole = encode_all(&sample());
    let one = encode_all(&sample()[..1]);
    for tail in [
        vec![7u8, 0, 0],
        vec![0u8; 4096],
        one[..one.len() - 3].to_vec(),
    ] {
        let mut bytes = whole.clone();
        bytes.extend_from_slice(&tail);
        std::fs::write(&path, &bytes).unwrap();
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.read_all().unwrap(), sample());
        drop(j);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole.len() as u64);
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_flipped_length_is_damage_and_the_file_is_left_alone() {
    let d = dir("flipped");
    let path = d.join("j");
    let mut bytes = encode_all(&sample());
    bytes[2] ^= 0x40; // the first record's length
    std::fs::write(&path, &bytes).unwrap();
    let err = Journal::open(&path).unwrap_err();
    assert_eq!(kind(&err), Some(JournalErrorKind::Damaged), "{err}");
    assert!(
        matches!(
            err,
            Error::Journal {
                offset: Some(0),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "never truncated");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_failed_append_is_undone_and_the_journal_stays_usable() {
    let d = dir("full");
    let path = d.join("j");
    let j = Journal::open(&path).unwrap();
    j.append(&sample()[..1], true).unwrap();
    let before = j.len();
    j.fail_next_append_after(20);
    let err = j.append(&sample()[1..], true).unwrap_err();
    assert_eq!(kind(&err), Some(JournalErrorKind::Io), "{err}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "keeps its io::Error"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), before, "cut back");
    j.append(&sample()[1..], true).unwrap();
    assert_eq!(j.read_all().unwrap(), sample());
    drop(j);
    assert_eq!(Journal::open(&path).unwrap().read_all().unwrap(), sample());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn journals_in_one_directory_rewrite_apart() {
    let d = dir("siblings");
    let one = Journal::open(&d.join("worker.1")).unwrap();
    let two = Journal::open(&d.join("worker.2")).unwrap();
    assert_ne!(
        temporary_path(&d.join("worker.1")),
        temporary_path(&d.join("worker.2"))
    );
    one.append(&sample()[..1], false).unwrap();
    two.append(&sample()[1..], false).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..100 {
                one.rewrite(|r| r).unwrap();
            }
        });
        s.spawn(|| {
            for _ in 0..100 {
                two.rewrite(|r| r).unwrap();
            }
        });
    });
    assert_eq!(one.read_all().unwrap(), sample()[..1].to_vec());
    assert_eq!(two.read_all().unwrap(), sample()[1..].to_vec());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn compaction_is_due_only_after_the_journal_doubles() {
    let d = dir("compaction");
    let j = Journal::open(&d.join("j")).unwrap();
    let big: Vec<Record> = (0..12_000).flat_map(|_| sample()).collect();
    j.append(&big, false).unwrap();
    assert!(j.len() > COMPACT_AT);
    assert!(j.wants_compaction());
    // A rewrite that keeps it all (every saga still open) moves the mark.
    j.rewrite(|r| r).unwrap();
    assert!(!j.wants_compaction());
    j.append(&sample(), false).unwrap();
    assert!(!j.wants_compaction(), "not on every saga end");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_directory_is_synced_after_creating_and_after_renaming() {
    use std::sync::atomic::Ordering::SeqCst;
    let d = dir("dirsync");
    let path = d.join("j");
    let before = DIR_SYNCS.load(SeqCst);
    let j = Journal::open(&path).unwrap();
    assert!(DIR_SYNCS.load(SeqCst) > before, "after creating the file");
    let created = DIR_SYNCS.load(SeqCst);
    j.rewrite(|r| r).unwrap();
    assert!(DIR_SYNCS.load(SeqCst) > created, "after the rename");
    let _ = std::fs::remove_dir_all(&d);
}
