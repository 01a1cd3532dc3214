//! What a run shares with the rest of its process, and how each run is kept
//! from seeing it, so that a seed replays alike alone, after other seeds, or
//! under `cargo test`.
//!
//! tokio numbers every task it spawns from one counter per process, and a
//! current-thread runtime files its tasks in a few lists chosen by that
//! number (four in tokio 1.54). When a host crashes, turmoil drops its
//! runtime, which drops the tasks list by list; each connection a dropped
//! task held sends its close through turmoil, which draws a latency from the
//! simulation's one generator. So the number the run's first task gets
//! decides the order of those draws, and with it every later latency: seed
//! 1060 gave another history (and failed) after the 60 seeds before it,
//! because they had spawned a number of tasks that was not a multiple of
//! four. Each run therefore starts its tasks at the same number modulo
//! `TASK_NUMBER_PERIOD` as a fresh process does, and one run at a time may
//! spawn tasks: two runs on two threads would interleave their numbers.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// A power of two at least as large as tokio's count of task lists.
const TASK_NUMBER_PERIOD: u64 = 64;

static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Held for a whole run: no other run in this process spawns tasks meanwhile.
/// (Anything else in the process that spawns tokio tasks during a run would
/// still shift the numbering; the simulation's binaries and tests do not.)
pub(super) fn one_run_at_a_time() -> MutexGuard<'static, ()> {
    // A run that panicked leaves nothing behind the lock to repair.
    ONE_RUN_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Spawns throwaway tasks until the next task tokio spawns will get the
/// number a fresh process's first task gets (1), modulo the period, and then
/// `shift` more: a run with shift 0 replays what it does in a process of its
/// own, and another shift is another seeded variant of the same run.
pub(super) fn align_task_numbers(shift: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime to number throwaway tasks");
    // The tasks are never polled; dropping the runtime drops them.
    loop {
        let number = task_number(runtime.spawn(async {}).id());
        if number.is_multiple_of(TASK_NUMBER_PERIOD) {
            break;
        }
    }
    for _ in 0..shift % TASK_NUMBER_PERIOD {
        drop(runtime.spawn(async {}));
    }
}

/// tokio shows a task id as its number.
fn task_number(id: tokio::task::Id) -> u64 {
    id.to_string()
        .parse()
        .expect("tokio shows a task id as a number")
}
