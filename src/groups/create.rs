//! The create saga: pre-check (with a journal), create everywhere, verify
//! everywhere, and on any failure roll back exactly what this saga created,
//! then report.

use super::{
    new_request_id, presence, rollback, send, unexpected, validate_group_id, Failures, GroupApi,
    GroupEndpoint, Ledger, Trail,
};
use crate::address::HostAddress;
use crate::cluster::{outcome_unknown, CallScope, CallSpec, Cluster, NodeOutcome, NodeSet};
use crate::error::{Error, NodeFailure};
use crate::journal::{CreateOutcome, SagaEnd, SagaOp};
use crate::retry::RetryPolicy;
use crate::saga::{Compensations, Saga};

/// `create_group`: see [`ClusterClient::create_group`](crate::ClusterClient::create_group).
pub(crate) fn create_group(
    cluster: &Cluster,
    api: &GroupApi,
    ledger: &Ledger,
    scope: &CallScope,
    id: &str,
) -> Result<(), Error> {
    validate_group_id(id, api.allow_slash_in_id)?;
    scope.check(cluster)?;
    let run = Run {
        cluster,
        // The node set this saga works on, to its end.
        view: cluster.nodes(),
        api,
        scope,
        id,
        request_id: new_request_id(),
        opts: scope.spec(),
    };
    let trail = Trail::begin(
        ledger,
        &run.view,
        SagaOp::Create,
        id,
        &run.request_id,
        run.opts.deadline,
    )?;
    run.pre_check(&trail)?;
    let mut state = CreateState::default();
    let mut saga: Saga<'_, Failures> =
        Saga::new(format!("create_group {id:?} [{}]", run.request_id));
    let result = saga
        .step("create", |comp| run.create(&mut state, &trail, comp))
        .and_then(|()| saga.step("verify", |_| run.verify()));
    match result {
        Ok(()) => {
            saga.complete();
            trail.finish(SagaEnd::Ok, Vec::new());
            log::debug!("group {id:?} created on every node [{}]", run.request_id);
            Ok(())
        }
        Err(Failures(failures)) => {
            let rollback_failures: Vec<NodeFailure> = saga
                .compensate()
                .into_iter()
                .flat_map(|f| f.error.0)
                .collect();
            Err(run.report(&state, &trail, failures, rollback_failures))
        }
    }
}

/// One create saga's fixed parts.
struct Run<'a> {
    cluster: &'a Cluster,
    view: NodeSet,
    api: &'a GroupApi,
    scope: &'a CallScope,
    id: &'a str,
    request_id: String,
    opts: CallSpec,
}

impl<'a> Run<'a> {
    fn all(&self) -> Vec<usize> {
        (0..self.view.len()).collect()
    }

    fn send(
        &self,
        endpoint: &GroupEndpoint,
        targets: &[usize],
        opts: &CallSpec,
    ) -> Vec<NodeOutcome> {
        send(
            self.cluster,
            &self.view,
            endpoint,
            self.id,
            targets,
            opts,
            Some(&self.request_id),
        )
    }

    /// With a journal: which nodes lack the group before anything is
    /// created (what `recover()` may undo after a crash, and nothing else),
    /// synced before the first create leaves.
    fn pre_check(&self, trail: &Trail<'_>) -> Result<(), Error> {
        if !trail.is_kept() {
            return Ok(());
        }
        let mut lacked = Vec::new();
        let mut held = Vec::new();
        for o in self.send(&self.api.verify, &self.all(), &self.opts) {
            match presence(self.api, o.outcome) {
                Ok(true) => held.push(o.node),
                Ok(false) => lacked.push(o.node),
                Err(_) => {}
            }
        }
        // Stopped before anything was created: nothing to undo.
        self.scope.check(self.cluster)?;
        trail.before(&lacked, &held)
    }

    /// Step "create": a node known to be unhealthy gets one attempt first
    /// (if it is still down, nothing is created anywhere), then the rest.
    /// The compensation is registered before the step reports its failure.
    fn create(
        &self,
        state: &mut CreateState,
        trail: &'a Trail<'a>,
        comp: &mut Compensations<'a, Failures>,
    ) -> Result<(), Failures> {
        let (healthy, unhealthy): (Vec<usize>, Vec<usize>) = self
            .all()
            .into_iter()
            .partition(|&i| self.view[i].is_healthy());
        if !unhealthy.is_empty() {
            let once = CallSpec {
                policy: RetryPolicy::none(),
                ..self.opts.clone()
            };
            let outcomes = self.send(&self.api.create, &unhealthy, &once);
            state.absorb(&self.api.create, outcomes);
        }
        if state.failures.is_empty() {
            let outcomes = self.send(&self.api.create, &healthy, &self.opts);
            state.absorb(&self.api.create, outcomes);
        }
        trail.outcomes(&state.per_node(&self.view));
        if !state.created.is_empty() {
            self.register_rollback(state.created.clone(), trail, comp);
        }
        let failures = std::mem::take(&mut state.failures);
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Failures(failures))
        }
    }

    /// The compensation: delete where this saga created, journaled.
    fn register_rollback(
        &self,
        targets: Vec<usize>,
        trail: &'a Trail<'a>,
        comp: &mut Compensations<'a, Failures>,
    ) {
        let (cluster, api, scope, id) = (self.cluster, self.api, self.scope, self.id);
        let (view, request_id) = (self.view.clone(), self.request_id.clone());
        comp.push("delete where this saga created", move || {
            let failed = rollback(cluster, &view, api, scope, id, &targets, &request_id);
            let results: Vec<(usize, bool)> = targets
                .iter()
                .map(|&n| {
                    let host = &view[n].address;
                    (n, !failed.iter().any(|f| &f.host == host))
                })
                .collect();
            trail.compensated(&results);
            if failed.is_empty() {
                Ok(())
            } else {
                Err(Failures(failed))
            }
        });
    }

    /// Step "verify": every node holds the group.
    fn verify(&self) -> Result<(), Failures> {
        let failures: Vec<NodeFailure> = self
            .send(&self.api.verify, &self.all(), &self.opts)
            .into_iter()
            .filter_map(|o| {
                let host = o.host.clone();
                match o.outcome {
                    Ok(r) if self.api.verify.done.contains(&r.status) => None,
                    Ok(r) => Some(NodeFailure {
                        host,
                        error: unexpected(r.status, &r.body),
                    }),
                    Err(error) => Some(NodeFailure { host, error }),
                }
            })
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Failures(failures))
        }
    }

    /// The error of a failed create, after the compensations ran; the
    /// saga's end in the journal.
    fn report(
        &self,
        state: &CreateState,
        trail: &Trail<'_>,
        failures: Vec<NodeFailure>,
        rollback_failures: Vec<NodeFailure>,
    ) -> Error {
        let mut failed_hosts: Vec<HostAddress> = Vec::new();
        for f in &failures {
            if !failed_hosts.contains(&f.host) {
                failed_hosts.push(f.host.clone());
            }
        }
        let possible_orphans: Vec<HostAddress> = state
            .unknown
            .iter()
            .map(|&i| self.view[i].address.clone())
            .collect();
        if !possible_orphans.is_empty() {
            log::error!(
                "group {:?}: outcome unknown on {} (not rolled back) [{}]",
                self.id,
                crate::error::join_hosts(&possible_orphans),
                self.request_id
            );
        }
        let rollback_failed_hosts: Vec<HostAddress> =
            rollback_failures.iter().map(|f| f.host.clone()).collect();
        let mut left: Vec<String> = Vec::new();
        for h in rollback_failed_hosts.iter().chain(&possible_orphans) {
            if !left.contains(&h.to_string()) {
                left.push(h.to_string());
            }
        }
        let end = if left.is_empty() {
            SagaEnd::RolledBack
        } else {
            SagaEnd::Leftovers
        };
        trail.finish(end, left);
        Error::GroupOperation {
            group_id: self.id.to_string(),
            failed_hosts,
            rollback_failed_hosts,
            possible_orphans,
            failures,
            rollback_failures,
            request_id: self.request_id.clone(),
        }
    }
}

/// What the create step learned.
#[derive(Default)]
struct CreateState {
    /// Nodes where this saga created the group (answered `done`).
    created: Vec<usize>,
    /// Nodes whose state is unknown: never deleted, reported as possible orphans.
    unknown: Vec<usize>,
    failures: Vec<NodeFailure>,
    /// Nodes a create was sent to.
    tried: Vec<usize>,
}

impl CreateState {
    /// Each node's outcome, for the journal.
    fn per_node(&self, view: &NodeSet) -> Vec<(usize, CreateOutcome)> {
        self.tried
            .iter()
            .map(|&n| {
                let host = &view[n].address;
                let outcome = if self.created.contains(&n) {
                    CreateOutcome::Created
                } else if self.unknown.contains(&n) {
                    CreateOutcome::Unknown
                } else if self.failures.iter().any(|f| &f.host == host) {
                    CreateOutcome::Failed
                } else {
                    CreateOutcome::WasThere
                };
                (n, outcome)
            })
            .collect()
    }

    /// Sorts each node's final create outcome. The status line decides (an
    /// answer with an oversized body included). Unknown — never deleted,
    /// always reported — is any node where the create may have been applied
    /// without a `done` answer saying so: sent and never answered, answered
    /// 502/504 (a gateway may have forwarded it) or an unexpected 2xx, or
    /// answered anything after such an attempt (a 409 then may be this
    /// saga's own group).
    fn absorb(&mut self, api: &GroupEndpoint, outcomes: Vec<NodeOutcome>) {
        for o in outcomes {
            self.tried.push(o.node);
            let host = o.host.clone();
            let may_be_applied = match &o.outcome {
                Ok(r) if api.done.contains(&r.status) || api.unchanged.contains(&r.status) => false,
                Ok(r) => (200..300).contains(&r.status) || outcome_unknown(&o.outcome),
                Err(e) => e.outcome_unknown(),
            };
            if o.earlier_unknown || may_be_applied {
                self.unknown.push(o.node);
            }
            match o.outcome {
                Ok(r) if api.done.contains(&r.status) => self.created.push(o.node),
                Ok(r) if api.unchanged.contains(&r.status) => {}
                Ok(r) => self.failures.push(NodeFailure {
                    host,
                    error: unexpected(r.status, &r.body),
                }),
                Err(error) => self.failures.push(NodeFailure { host, error }),
            }
        }
    }
}
