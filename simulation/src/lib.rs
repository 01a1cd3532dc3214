//! Deterministic simulation of a Cairn cluster: the real node code (HTTP
//! API, openraft, state machine, redb) on turmoil's simulated network and
//! clock, with a crash-modelling disk, seeded faults and simulated agents,
//! and a checker for every invariant. See `README.md`.

pub mod access;
pub mod check;
pub mod disk;
pub mod history;
pub mod net;
pub mod node;
pub mod peer_faults;
pub mod rng;
pub mod run;
pub mod workload;

pub use run::{SeedReport, SimOptions, run_seed};
