//! Deterministic simulation of a Cairn cluster (placeholder until the simulation issue).
