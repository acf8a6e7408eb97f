//! The saga policy on hand-written journals: no files, no nodes.

use super::*;

const A: &str = "http://127.0.0.1:1";
const B: &str = "http://127.0.0.1:2";
const C: &str = "http://127.0.0.1:3";

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn begin(saga: u64, op: SagaOp) -> Record {
    Record::Begin {
        saga,
        op,
        group: "g".into(),
        nodes: names(&[A, B, C]),
        request_id: format!("r{saga}"),
    }
}

fn before(saga: u64, lacked: &[&str], held: &[&str]) -> Record {
    Record::Before {
        saga,
        lacked: names(lacked),
        held: names(held),
    }
}

fn outcome(saga: u64, node: &str, outcome: CreateOutcome) -> Record {
    Record::Outcome {
        saga,
        node: node.into(),
        outcome,
    }
}

fn finish(saga: u64, end: SagaEnd, left: &[&str]) -> Record {
    Record::Finish {
        saga,
        end,
        left: names(left),
    }
}

fn comp(saga: u64, node: &str, ok: bool) -> Record {
    Record::Compensated {
        saga,
        node: node.into(),
        ok,
    }
}

/// A create that failed on C, whose rollback on A failed: A keeps the group.
fn create_with_leftover(saga: u64) -> Vec<Record> {
    vec![
        begin(saga, SagaOp::Create),
        before(saga, &[A, B, C], &[]),
        outcome(saga, A, CreateOutcome::Created),
        outcome(saga, B, CreateOutcome::Created),
        outcome(saga, C, CreateOutcome::Failed),
        comp(saga, A, false),
        comp(saga, B, true),
        finish(saga, SagaEnd::Leftovers, &[A]),
    ]
}

fn one(records: &[Record]) -> Chain {
    let chains = fold(records, &|_| false);
    assert_eq!(chains.len(), 1, "{chains:?}");
    chains.into_iter().next().unwrap()
}

fn now(list: &[(&str, Now)]) -> BTreeMap<String, Now> {
    list.iter()
        .map(|(n, s)| (n.to_string(), s.clone()))
        .collect()
}

#[test]
fn a_rollback_leftover_is_ours_to_delete() {
    let chain = one(&create_with_leftover(1));
    assert!(chain.is_open());
    assert_eq!(chain.open_nodes(), vec![(&A.to_string(), NodeState::Ours)]);
    let plan = decide(
        &chain,
        &now(&[(A, Now::Holds), (B, Now::Lacks), (C, Now::Lacks)]),
    );
    assert_eq!(plan.delete, names(&[A]));
    assert!(plan.attention.is_empty() && !plan.complete);
}

#[test]
fn a_later_successful_create_supersedes_the_leftover() {
    let mut j = create_with_leftover(1);
    j.extend([
        begin(2, SagaOp::Create),
        before(2, &[B, C], &[A]),
        outcome(2, A, CreateOutcome::WasThere),
        outcome(2, B, CreateOutcome::Created),
        outcome(2, C, CreateOutcome::Created),
        finish(2, SagaEnd::Ok, &[]),
    ]);
    assert!(!one(&j).is_open(), "{:?}", one(&j));
}

#[test]
fn a_converged_repair_to_present_supersedes_the_leftover() {
    let mut j = create_with_leftover(1);
    j.extend([begin(2, SagaOp::RepairPresent), finish(2, SagaEnd::Ok, &[])]);
    assert!(!one(&j).is_open());
}

#[test]
fn a_create_after_a_partly_failed_delete_supersedes_it() {
    let j = vec![
        begin(1, SagaOp::Delete),
        finish(1, SagaEnd::Leftovers, &[B]),
        begin(2, SagaOp::Create),
        before(2, &[A, C], &[B]),
        finish(2, SagaEnd::Ok, &[]),
    ];
    assert!(!one(&j).is_open());
    // Without the create, the delete is to be finished where it failed.
    let chain = one(&j[..2]);
    assert_eq!(chain.latest, Some(SagaOp::Delete));
    assert_eq!(chain.open_nodes(), vec![(&B.to_string(), NodeState::Ours)]);
}

#[test]
fn a_node_that_answered_409_is_never_deleted() {
    // The pre-check found C empty, but C answered 409: someone else made it.
    let j = vec![
        begin(1, SagaOp::Create),
        before(1, &[A, B, C], &[]),
        outcome(1, A, CreateOutcome::Created),
        outcome(1, B, CreateOutcome::Failed),
        outcome(1, C, CreateOutcome::WasThere),
        // killed during the rollback
    ];
    let chain = one(&j);
    assert_eq!(chain.states.get(C), Some(&NodeState::Foreign));
    let plan = decide(
        &chain,
        &now(&[(A, Now::Holds), (B, Now::Lacks), (C, Now::Holds)]),
    );
    assert_eq!(plan.delete, names(&[A]));
    assert!(plan.attention.is_empty());
}

#[test]
fn a_node_whose_earlier_state_is_unknown_is_reported_until_settled() {
    let j = vec![
        begin(1, SagaOp::Create),
        before(1, &[A, B], &[]), // C's pre-check failed
        outcome(1, A, CreateOutcome::Created),
        outcome(1, B, CreateOutcome::Failed),
        outcome(1, C, CreateOutcome::Unknown),
        comp(1, A, true),
        finish(1, SagaEnd::Leftovers, &[C]),
    ];
    let chain = one(&j);
    let down = decide(
        &chain,
        &now(&[
            (A, Now::Lacks),
            (B, Now::Lacks),
            (C, Now::Unchecked("refused".into())),
        ]),
    );
    assert_eq!(down.attention.len(), 1, "{down:?}");
    assert!(down.delete.is_empty());
    let there = decide(
        &chain,
        &now(&[(A, Now::Lacks), (B, Now::Lacks), (C, Now::Holds)]),
    );
    assert_eq!(there.attention.len(), 1);
    assert!(
        there.delete.is_empty(),
        "never deleted: it may have been there"
    );
    let gone = decide(
        &chain,
        &now(&[(A, Now::Lacks), (B, Now::Lacks), (C, Now::Lacks)]),
    );
    assert_eq!(gone, Plan::default());
}

#[test]
fn a_create_killed_after_its_intent_may_have_reached_every_lacking_node() {
    let j = vec![begin(1, SagaOp::Create), before(1, &[A, B], &[C])];
    let chain = one(&j);
    assert!(!chain.finished);
    assert_eq!(chain.states.get(A), Some(&NodeState::MaybeOurs));
    assert_eq!(chain.states.get(C), Some(&NodeState::Foreign));
    let all = now(&[(A, Now::Holds), (B, Now::Holds), (C, Now::Holds)]);
    assert!(decide(&chain, &all).complete);
    let some = now(&[(A, Now::Holds), (B, Now::Lacks), (C, Now::Holds)]);
    assert_eq!(decide(&chain, &some).delete, names(&[A]));
}

#[test]
fn a_create_killed_before_its_intent_sent_nothing() {
    let chain = one(&[begin(1, SagaOp::Create)]);
    assert!(!chain.is_open());
}

#[test]
fn an_earlier_leftover_survives_a_later_rolled_back_create() {
    let mut j = create_with_leftover(1);
    j.extend([
        begin(2, SagaOp::Create),
        before(2, &[B, C], &[A]),
        outcome(2, A, CreateOutcome::WasThere),
        outcome(2, B, CreateOutcome::Created),
        outcome(2, C, CreateOutcome::Failed),
        comp(2, B, true),
        finish(2, SagaEnd::RolledBack, &[]),
    ]);
    let chain = one(&j);
    assert_eq!(chain.open_nodes(), vec![(&A.to_string(), NodeState::Ours)]);
}

#[test]
fn compaction_folds_finished_sagas_and_keeps_sagas_in_flight_verbatim() {
    let mut j = create_with_leftover(1);
    j.extend([
        begin(5, SagaOp::Create),
        before(5, &[A, B, C], &[]),
        finish(5, SagaEnd::Ok, &[]),
    ]);
    j.extend(create_with_leftover(3));
    let in_flight = vec![begin(9, SagaOp::Create), before(9, &[A], &[B, C])];
    j.extend(in_flight.clone());
    let compacted = compact(&j, &|s| s == 9);
    assert_eq!(compacted.len(), 1 + in_flight.len(), "{compacted:#?}");
    assert!(matches!(&compacted[0], Record::Carry { saga: 3, .. }));
    assert_eq!(&compacted[1..], &in_flight[..]);
    // Folding the compacted journal says what folding the whole one says.
    let whole = fold(&j, &|s| s == 9);
    let again = fold(&compacted, &|s| s == 9);
    assert_eq!(whole[0].open_nodes(), again[0].open_nodes());
    assert_eq!(whole[0].latest, again[0].latest);
    // A journal of clean sagas compacts to nothing.
    assert!(compact(&j[8..11], &|_| false).is_empty());
}

#[test]
fn groups_are_folded_apart() {
    let mut j = create_with_leftover(1);
    if let Record::Begin { group, .. } = &mut j[0] {
        *group = "other".into();
    }
    j.extend(create_with_leftover(2));
    let chains = fold(&j, &|_| false);
    assert_eq!(chains.len(), 2);
    assert_eq!(chains[0].group, "other");
    assert!(chains.iter().all(Chain::is_open));
}
