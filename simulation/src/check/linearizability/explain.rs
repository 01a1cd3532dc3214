//! The explanation of a failed search: the longest linearizable prefix,
//! the operation that answered before anything could follow it, and why
//! each candidate for that place does not fit.

use std::fmt::Write as _;

use super::search::{LongestPrefix, Search};
use crate::check::model::{step, version_told};
use crate::history::{Event, Outcome};

/// How many operations of the longest linearizable prefix an explanation shows.
const EXPLANATION_PREFIX_OPERATIONS_MAX: usize = 10;
/// How many candidates for the place after that prefix an explanation shows.
const EXPLANATION_CANDIDATES_MAX: usize = 10;
/// Longer descriptions of an event or a state are cut to this.
const DESCRIPTION_CHARS_MAX: usize = 240;

impl Search<'_> {
    /// Says why no order fits, from the longest prefix the search placed.
    pub(super) fn explain(&self, longest: &LongestPrefix) -> String {
        let describe = |operation: usize| describe_event(self.operations[operation].event);
        let mut text = String::new();
        let _ = writeln!(
            text,
            "no order of the {} operations ({} with a known outcome) explains the history; \
             the longest linearizable prefix places {}:",
            self.operations.len(),
            self.known_outcome_count,
            longest.operations.len()
        );
        let skipped = longest
            .operations
            .len()
            .saturating_sub(EXPLANATION_PREFIX_OPERATIONS_MAX);
        if skipped > 0 {
            let _ = writeln!(text, "  ... {skipped} earlier operations");
        }
        for (position, &operation) in longest.operations.iter().enumerate().skip(skipped) {
            let _ = writeln!(text, "  {}. {}", position + 1, describe(operation));
        }
        let _ = writeln!(
            text,
            "leaving the file {}.",
            truncated(format!("{:?}", longest.state))
        );
        match &longest.blocked {
            Some((blocked, candidates)) => {
                let _ = writeln!(
                    text,
                    "The next place must be taken before this operation answered:\n  {}\n\
                     but no candidate fits there:",
                    describe(*blocked)
                );
                for &candidate in candidates.iter().take(EXPLANATION_CANDIDATES_MAX) {
                    let _ = writeln!(
                        text,
                        "  {}\n    {}",
                        describe(candidate),
                        self.why_not_next(longest, candidate)
                    );
                }
                if candidates.len() > EXPLANATION_CANDIDATES_MAX {
                    let _ = writeln!(
                        text,
                        "  ... {} more",
                        candidates.len() - EXPLANATION_CANDIDATES_MAX
                    );
                }
            }
            // Unreachable: the search fails at a return, with the longest
            // prefix at most as long as the stack was then.
            None => text.push_str("No operation was found to block it.\n"),
        }
        text
    }

    /// Why `candidate` cannot follow the longest prefix, in a sentence.
    fn why_not_next(&self, longest: &LongestPrefix, candidate: usize) -> String {
        let event = self.operations[candidate].event;
        let Some(next_state) = step(&longest.state, &event.op, &event.outcome) else {
            return if event.outcome == Outcome::Unknown {
                "could not have taken effect in that state".to_owned()
            } else {
                "does not fit that state".to_owned()
            };
        };
        let mut in_prefix = vec![false; self.operations.len()];
        for &operation in &longest.operations {
            in_prefix[operation] = true;
        }
        let versions_from = next_state.versions_from();
        let starved = (0..self.operations.len())
            .filter(|&other| {
                other != candidate && !in_prefix[other] && self.operations[other].outcome_known
            })
            .filter_map(|other| {
                let other_event = self.operations[other].event;
                let told = version_told(&other_event.op, &other_event.outcome)?;
                (told < versions_from).then_some((told, other))
            })
            .min();
        match starved {
            Some((told, other)) => format!(
                "fits, but then versions are from {versions_from} on, so this one, \
                 told version {told}, never fits: {}",
                describe_event(self.operations[other].event)
            ),
            None => "fits, but no order of the rest fits after it".to_owned(),
        }
    }
}

fn describe_event(event: &Event) -> String {
    let completed = match (&event.outcome, event.completed_ns) {
        (Outcome::Unknown, _) | (_, None) => "never".to_owned(),
        (_, Some(completed_ns)) => completed_ns.to_string(),
    };
    truncated(format!(
        "client {} [{}..{} ns] {:?} -> {:?}",
        event.client, event.invoked_ns, completed, event.op, event.outcome
    ))
}

fn truncated(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(DESCRIPTION_CHARS_MAX) {
        text.truncate(cut);
        text.push_str("...");
    }
    text
}
