//! Redaction: digests checked, ranges replaced by the marker, the live
//! version rewritten, metadata and audit kept, refusals change nothing.

use super::*;
use crate::redact::{MARKER, RedactAction, RedactTarget, Redaction, plan_string, plan_version};

const SECRET: &str = "sk-0123456789abcdef";

impl Harness {
    fn redact(&mut self, reason: &str, targets: Vec<RedactTarget>) -> Outcome {
        self.command(
            Command::Redact {
                store: store(),
                reason: reason.to_string(),
                targets,
            },
            None,
        )
    }

    fn plan(&self, needle: &str) -> Vec<RedactTarget> {
        plan_string(&self.kv, &store(), "/", needle, &self.limits).unwrap()
    }

    fn at(&self, p: &str, version: u64) -> Result<String, ReadErrorKind> {
        read::read_file(&self.kv, &store(), &path(p), At::Version(version)).map(|f| f.content)
    }

    /// Every content row of the store, raw.
    fn content_rows(&self) -> Vec<Vec<u8>> {
        let mut rows = Vec::new();
        self.kv
            .scan(
                Table::Content,
                Bound::Unbounded,
                Bound::Unbounded,
                false,
                &mut |_, value| {
                    rows.push(value.to_vec());
                    Ok(true)
                },
            )
            .unwrap();
        rows
    }
}

fn redacted(outcome: Outcome) -> Redaction {
    match outcome {
        Outcome::Redacted(redaction) => redaction,
        other => panic!("expected a redaction, got {other:?}"),
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn a_string_redaction_marks_past_versions_and_rewrites_the_live_one() {
    let mut h = Harness::new();
    let v1 = h.ok(vec![write("/a", &format!("key={SECRET}\n"))]).revision;
    let v2 = h
        .ok(vec![write("/a", &format!("key={SECRET} again {SECRET}\n"))])
        .revision;
    let other = h.ok(vec![write("/b", "nothing to see\n")]).revision;
    let deleted = h.ok(vec![write("/c", SECRET)]).revision;
    h.ok(vec![delete("/c", false)]);
    let before = h.revision();

    let targets = h.plan(SECRET);
    // /a@v1, /a@v2 and /c's only version; never /b.
    assert_eq!(targets.len(), 3, "{targets:?}");
    assert!(targets.iter().all(|target| target.path.as_str() != "/b"));
    let a2 = targets.iter().find(|t| t.version == v2).unwrap();
    assert_eq!(
        a2.action,
        RedactAction::Ranges(vec![(4, 4 + 19), (30, 30 + 19)])
    );

    let redaction = redacted(h.redact("leaked key", targets));
    assert_eq!(redaction.revision, before + 1);
    assert_eq!(h.revision(), before + 1);
    assert_eq!(redaction.versions.len(), 3);
    assert!(redaction.versions.iter().all(|version| !version.whole));
    // Only /a was live with the secret: rewritten at the redaction's revision.
    assert_eq!(
        redaction.rewritten,
        vec![Change {
            path: "/a".into(),
            op: OpKind::Redact,
            version: Some(before + 1),
        }]
    );

    // The marker stands where the secret stood, in every version.
    let live = format!("key={MARKER} again {MARKER}\n");
    assert_eq!(h.read("/a").unwrap(), live);
    assert_eq!(h.at("/a", v2).unwrap(), live);
    assert_eq!(h.at("/a", v1).unwrap(), format!("key={MARKER}\n"));
    assert_eq!(h.at("/c", deleted).unwrap(), MARKER);
    assert_eq!(h.at("/b", other).unwrap(), "nothing to see\n");
    // No content row holds it any more, and a second plan finds nothing.
    assert!(h.content_rows().iter().all(|row| !contains(row, SECRET)));
    assert!(h.plan(SECRET).is_empty());

    // Metadata stays: the versions, their attribution, and the mark.
    let meta = read::stat(&h.kv, &store(), &path("/a"), At::Version(v1)).unwrap();
    assert_eq!((meta.version, meta.agent.as_str()), (v1, "agent-1"));
    assert_eq!(meta.bytes, format!("key={MARKER}\n").len() as u64);
    let mark = meta.redaction.expect("marked redacted");
    assert_eq!(
        (mark.principal.as_str(), mark.reason.as_str(), mark.whole),
        ("operator", "leaked key", false)
    );
    let history = read::history(&h.kv, &store(), &path("/a"), None, 10, true).unwrap();
    let versions: Vec<(u64, OpKind)> = history.versions.iter().map(|v| (v.version, v.op)).collect();
    assert_eq!(
        versions,
        vec![
            (before + 1, OpKind::Redact),
            (v2, OpKind::Write),
            (v1, OpKind::Write)
        ]
    );
    assert!(history.versions[0].redaction.is_none());
    assert!(history.versions[1].redaction.is_some());
    // The store's byte total follows the rewritten live version.
    let info = read::get_store(&h.kv, &store()).unwrap();
    assert_eq!(
        info.bytes_total,
        (live.len() + "nothing to see\n".len()) as u64
    );

    // The audit event says who, why and which versions, never the content.
    let events = super::store_events(&h.kv);
    let event = events.last().unwrap();
    assert_eq!(event.revision, Some(before + 1));
    assert_eq!(
        (event.op, event.detail.as_deref()),
        (crate::audit::AuditOp::Redact, Some("leaked key"))
    );
    assert_eq!(event.changes.len(), 4);
    assert!(
        event
            .changes
            .iter()
            .all(|change| change.op == OpKind::Redact)
    );
}

#[test]
fn a_version_redaction_removes_the_content_row_and_keeps_the_record() {
    let mut h = Harness::new();
    let v1 = h.ok(vec![write("/a", SECRET)]).revision;
    h.ok(vec![write("/a", "clean")]);
    let rows = h.content_rows().len();

    // The live version cannot lose its content whole.
    let live = plan_version(&h.kv, &store(), &path("/a"), h.revision()).unwrap();
    let before = h.kv.clone();
    let outcome = h.redact("no", vec![live]);
    assert_eq!(failed_code(&outcome), "redaction_conflict");
    assert_eq!(h.kv, before);

    let target = plan_version(&h.kv, &store(), &path("/a"), v1).unwrap();
    let redaction = redacted(h.redact("pasted a key", vec![target.clone()]));
    assert!(redaction.versions[0].whole);
    assert!(redaction.rewritten.is_empty());
    assert_eq!(h.content_rows().len(), rows - 1);
    assert!(h.content_rows().iter().all(|row| !contains(row, SECRET)));

    // Reading it says redacted, with who and when; stat and history still show it.
    match h.at("/a", v1) {
        Err(ReadErrorKind::Domain(CoreError::Redacted {
            version, principal, ..
        })) => assert_eq!((version, principal.as_str()), (v1, "operator")),
        other => panic!("expected redacted, got {other:?}"),
    }
    let meta = read::stat(&h.kv, &store(), &path("/a"), At::Version(v1)).unwrap();
    assert_eq!(meta.bytes, SECRET.len() as u64);
    assert!(meta.redaction.unwrap().whole);
    let history = read::history(&h.kv, &store(), &path("/a"), None, 10, true).unwrap();
    assert_eq!(history.versions[1].content, None);
    assert_eq!(h.read("/a").unwrap(), "clean");

    // Redacting it again is a conflict, and changes nothing.
    let before = h.kv.clone();
    assert_eq!(
        failed_code(&h.redact("again", vec![target])),
        "redaction_conflict"
    );
    assert_eq!(h.kv, before);
}

#[test]
fn a_digest_that_does_not_match_refuses_the_whole_redaction() {
    let mut h = Harness::new();
    h.ok(vec![write("/a", &format!("x {SECRET}"))]);
    h.ok(vec![write("/b", &format!("y {SECRET}"))]);
    let mut targets = h.plan(SECRET);
    assert_eq!(targets.len(), 2);
    targets[1].sha256[0] ^= 1;
    let before = h.kv.clone();
    let outcome = h.redact("leak", targets);
    assert_eq!(failed_code(&outcome), "redaction_conflict");
    // Neither version changed: not even the one whose digest matched.
    assert_eq!(h.kv, before);

    // Ranges that do not fit the content are refused too.
    let mut targets = h.plan(SECRET);
    targets[0].action = RedactAction::Ranges(vec![(0, 1_000)]);
    assert_eq!(failed_code(&h.redact("leak", targets)), "invalid_request");
    assert_eq!(h.kv, before);
}

#[test]
fn stateless_rules_of_a_redaction() {
    let mut h = Harness::new();
    h.ok(vec![write("/a", &format!("{SECRET}{SECRET}"))]);
    let target = h.plan(SECRET).remove(0);
    let cases = [
        ("", vec![target.clone()], "invalid_request"),
        ("why", vec![], "invalid_request"),
        (
            "why",
            vec![target.clone(), target.clone()],
            "invalid_request",
        ),
        (
            "why",
            vec![RedactTarget {
                action: RedactAction::Ranges(vec![(5, 9), (3, 4)]),
                ..target.clone()
            }],
            "invalid_request",
        ),
        (
            "why",
            vec![RedactTarget {
                action: RedactAction::Ranges(vec![]),
                ..target.clone()
            }],
            "invalid_request",
        ),
    ];
    for (reason, targets, code) in cases {
        let before = h.kv.clone();
        assert_eq!(failed_code(&h.redact(reason, targets)), code);
        assert_eq!(h.kv, before);
    }
    assert!(plan_string(&h.kv, &store(), "/", "", &h.limits).is_err());
    assert!(plan_string(&h.kv, &store(), "/", "DACT", &h.limits).is_err());
}

#[test]
fn a_path_prefix_limits_a_string_redaction() {
    let mut h = Harness::new();
    h.ok(vec![write("/keep/a", SECRET), write("/drop/a", SECRET)]);
    let targets = plan_string(&h.kv, &store(), "/drop", SECRET, &h.limits).unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].path.as_str(), "/drop/a");
    redacted(h.redact("leak", targets));
    assert_eq!(h.read("/keep/a").unwrap(), SECRET);
    assert_eq!(h.read("/drop/a").unwrap(), MARKER);
}

#[test]
fn only_admins_redact() {
    let mut h = Harness::new();
    h.ok(vec![write("/a", SECRET)]);
    let targets = h.plan(SECRET);
    let before = h.kv.clone();
    let outcome = h.command_as(
        Some("no-such-token"),
        Command::Redact {
            store: store(),
            reason: "leak".into(),
            targets,
        },
        None,
    );
    assert_eq!(failed_code(&outcome), "unauthenticated");
    assert_eq!(h.kv, before);
}
