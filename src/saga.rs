//! A saga: steps run in sequence; each step may register compensations,
//! which run in reverse order when a later step (or the step itself) fails.
//!
//! ```
//! use cluster_client::Saga;
//!
//! let log = std::cell::RefCell::new(Vec::new());
//! let mut saga: Saga<'_, String> = Saga::new("demo");
//! saga.step("reserve", |comp| {
//!     log.borrow_mut().push("reserved");
//!     comp.push("release", || { log.borrow_mut().push("released"); Ok(()) });
//!     Ok(())
//! }).unwrap();
//! let failed: Result<(), String> = saga.step("charge", |_| Err("card declined".to_string()));
//! assert!(failed.is_err());
//! let report = saga.compensate();
//! assert!(report.is_empty());
//! assert_eq!(*log.borrow(), vec!["reserved", "released"]);
//! ```

use std::fmt;

type Action<'a, E> = Box<dyn FnOnce() -> Result<(), E> + 'a>;

/// Compensations registered by the steps of a [`Saga`], run last-in first-out.
pub struct Compensations<'a, E> {
    list: Vec<(String, Action<'a, E>)>,
}

impl<'a, E> Compensations<'a, E> {
    /// Registers a compensation; it runs only if the saga is compensated.
    pub fn push(&mut self, name: impl Into<String>, undo: impl FnOnce() -> Result<(), E> + 'a) {
        self.list.push((name.into(), Box::new(undo)));
    }

    /// How many compensations are registered.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when nothing would be compensated.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// A compensation that failed, with its error.
#[derive(Debug)]
pub struct CompensationFailure<E> {
    /// The name it was registered with.
    pub name: String,
    /// What went wrong.
    pub error: E,
}

/// Plain sequential code with its compensations collected in a `Vec`.
///
/// Run steps with [`Saga::step`]; when one fails, call [`Saga::compensate`]
/// to undo what the earlier steps did (in reverse order; every compensation
/// runs even if one fails, and the failures are returned). Call
/// [`Saga::complete`] when every step succeeded.
///
/// **A saga dropped without `complete()` or `compensate()`** — a `?` that
/// returned early, or a panic unwinding through it, a panicking step
/// included — runs its compensations in `Drop` (in reverse order, each
/// inside `catch_unwind`) and logs at `error`: nothing a step did is left
/// behind silently.
///
/// ```
/// use cluster_client::Saga;
///
/// let undone = std::cell::Cell::new(false);
/// let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
///     let mut saga: Saga<'_, String> = Saga::new("demo");
///     saga.step("reserve", |comp| {
///         comp.push("release", || { undone.set(true); Ok(()) });
///         Ok(())
///     }).unwrap();
///     saga.step("charge", |_| -> Result<(), String> { panic!("bug in a step") })
/// }));
/// assert!(result.is_err());
/// assert!(undone.get(), "the unwinding saga ran its compensation");
/// ```
pub struct Saga<'a, E: fmt::Display> {
    name: String,
    compensations: Compensations<'a, E>,
}

impl<'a, E: fmt::Display> Saga<'a, E> {
    /// A saga with no steps yet; `name` is used in log lines.
    pub fn new(name: impl Into<String>) -> Self {
        Saga {
            name: name.into(),
            compensations: Compensations { list: Vec::new() },
        }
    }

    /// Runs one step. The step registers its compensations in the given
    /// list, *before* it reports its own failure if it partly succeeded.
    pub fn step<T>(
        &mut self,
        name: &str,
        action: impl FnOnce(&mut Compensations<'a, E>) -> Result<T, E>,
    ) -> Result<T, E> {
        log::debug!("saga {}: step {name}", self.name);
        let result = action(&mut self.compensations);
        if let Err(e) = &result {
            log::warn!("saga {}: step {name} failed: {e}", self.name);
        }
        result
    }

    /// Registered compensations so far.
    pub fn pending_compensations(&self) -> usize {
        self.compensations.len()
    }

    /// Runs every registered compensation in reverse order and returns the
    /// ones that failed.
    #[must_use = "the compensations that failed left something behind"]
    pub fn compensate(mut self) -> Vec<CompensationFailure<E>> {
        self.run_compensations()
    }

    fn run_compensations(&mut self) -> Vec<CompensationFailure<E>> {
        let list = std::mem::take(&mut self.compensations.list);
        let mut failures = Vec::new();
        for (name, undo) in list.into_iter().rev() {
            log::info!("saga {}: compensating {name}", self.name);
            if let Err(error) = undo() {
                log::error!("saga {}: compensation {name} failed: {error}", self.name);
                failures.push(CompensationFailure { name, error });
            }
        }
        failures
    }

    /// Ends the saga successfully, dropping its compensations.
    pub fn complete(mut self) {
        self.compensations.list.clear();
        log::debug!("saga {} completed", self.name);
    }
}

impl<E: fmt::Display> Drop for Saga<'_, E> {
    fn drop(&mut self) {
        if self.compensations.list.is_empty() {
            return;
        }
        log::error!(
            "saga {} dropped without complete() or compensate(){}: running its {} compensation(s)",
            self.name,
            if std::thread::panicking() {
                " while a panic unwinds"
            } else {
                ""
            },
            self.compensations.len()
        );
        let list = std::mem::take(&mut self.compensations.list);
        for (name, undo) in list.into_iter().rev() {
            // A compensation that panics while a panic unwinds would abort
            // the process: each runs inside `catch_unwind`.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(undo)) {
                Ok(Ok(())) => log::error!("saga {}: compensated {name} on drop", self.name),
                Ok(Err(error)) => {
                    log::error!("saga {}: compensation {name} failed: {error}", self.name);
                }
                Err(_) => log::error!("saga {}: compensation {name} panicked", self.name),
            }
        }
    }
}

impl<E: fmt::Display> fmt::Debug for Saga<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Saga")
            .field("name", &self.name)
            .field("compensations", &self.compensations.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn compensates_in_reverse_and_collects_failures() {
        let order = RefCell::new(Vec::new());
        let mut saga: Saga<'_, String> = Saga::new("t");
        saga.step("a", |c| {
            c.push("undo a", || {
                order.borrow_mut().push("a");
                Ok(())
            });
            Ok(())
        })
        .unwrap();
        saga.step("b", |c| {
            c.push("undo b", || {
                order.borrow_mut().push("b");
                Err("b stuck".to_string())
            });
            Ok(())
        })
        .unwrap();
        let r: Result<(), String> = saga.step("c", |c| {
            c.push("undo c (partial)", || {
                order.borrow_mut().push("c");
                Ok(())
            });
            Err("c failed".into())
        });
        assert!(r.is_err());
        assert_eq!(saga.pending_compensations(), 3);
        let failures = saga.compensate();
        assert_eq!(*order.borrow(), vec!["c", "b", "a"]);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].name, "undo b");
        assert_eq!(failures[0].error, "b stuck");
    }

    #[test]
    fn a_dropped_saga_runs_its_compensations_and_a_completed_one_does_not() {
        let order = RefCell::new(Vec::new());
        {
            let mut saga: Saga<'_, String> = Saga::new("dropped");
            saga.step("a", |c| {
                c.push("undo a", || {
                    order.borrow_mut().push("a");
                    Ok(())
                });
                c.push("undo b", || panic!("a compensation panics"));
                c.push("undo c", || {
                    order.borrow_mut().push("c");
                    Err("c stuck".to_string())
                });
                Ok(())
            })
            .unwrap();
        }
        // Every compensation ran, in reverse, past the failing and the panicking one.
        assert_eq!(*order.borrow(), vec!["c", "a"]);
        order.borrow_mut().clear();
        let mut saga: Saga<'_, String> = Saga::new("completed");
        saga.step("a", |c| {
            c.push("undo a", || {
                order.borrow_mut().push("a");
                Ok(())
            });
            Ok(())
        })
        .unwrap();
        saga.complete();
        assert!(order.borrow().is_empty());
    }

    #[test]
    fn a_panicking_step_unwinds_through_the_saga_and_compensates() {
        let order = RefCell::new(Vec::new());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut saga: Saga<'_, String> = Saga::new("panics");
            saga.step("a", |c| {
                c.push("undo a", || {
                    order.borrow_mut().push("a");
                    Ok(())
                });
                Ok(())
            })
            .unwrap();
            let _: Result<(), String> = saga.step("b", |c| {
                c.push("undo b (partial)", || {
                    order.borrow_mut().push("b");
                    Ok(())
                });
                panic!("a step panics")
            });
        }));
        assert!(r.is_err());
        assert_eq!(*order.borrow(), vec!["b", "a"]);
    }
}
