use super::*;

fn header() -> Header {
    Header {
        format: FORMAT.to_string(),
        version: FORMAT_VERSION,
        store: Store {
            name: "notes".into(),
            org: "default".into(),
            owner: None,
            id: 3,
            created_ms: 1_000,
            revision: 4,
            file_count: 1,
            bytes_total: 5,
            policy: Policy::default(),
            audit_last_log_index: 40,
        },
        exported_ms: 2_000,
    }
}

fn version(path: &str, revision: u64, op: &str, bytes: Option<u64>) -> Version {
    Version {
        path: path.into(),
        version: revision,
        op: op.into(),
        bytes,
        time_ms: 1_000 + revision,
        agent: "agent-a".into(),
        session: "s1".into(),
        principal: Some("operator".into()),
        token_id: Some("0123456789abcdef".into()),
        renamed_from: None,
        renamed_to: None,
        redaction: None,
        content_bytes: None,
        content_sha256: None,
    }
}

fn event(log_index: u64, prev_hash: &str) -> Event {
    Event {
        log_index,
        time_ms: 1_000 + log_index,
        op: "txn".into(),
        org_id: Some(1),
        org: Some("default".into()),
        store_id: Some(3),
        store: Some("notes".into()),
        revision: Some(1),
        principal: "operator".into(),
        token_id: "0123456789abcdef".into(),
        agent: "agent-a".into(),
        session: "s1".into(),
        idempotency_key: None,
        request_id: "r".into(),
        target: None,
        detail: None,
        changes: vec![Change {
            path: "/a.md".into(),
            op: "write".into(),
            version: Some(1),
            content_sha256: Some(sha256_hex(b"hello")),
        }],
        prev_hash: prev_hash.into(),
        hash: sha256_hex(&log_index.to_be_bytes()),
    }
}

/// An archive with content (multi-line, with a newline at its end and
/// non-ASCII text), a delete, a version redacted whole, and two events.
fn sample() -> (Vec<u8>, Vec<Entry>) {
    let mut writer = Writer::new();
    let mut bytes = Vec::new();
    let mut entries = Vec::new();
    bytes.extend(writer.header(&header()));
    entries.push(Entry::Header(header()));
    let contents = [Some("hello"), None, None, Some("line one\nline twö\n")];
    let mut versions = vec![
        version("/a.md", 1, "write", Some(5)),
        version("/a.md", 2, "delete", None),
        version("/b.md", 3, "write", Some(9)),
        version("/c.md", 4, "write", Some(19)),
    ];
    versions[2].redaction = Some(Redaction {
        revision: 4,
        time_ms: 9,
        principal: "operator".into(),
        token_id: "0123456789abcdef".into(),
        reason: "secret".into(),
        whole: true,
    });
    for (version, content) in versions.into_iter().zip(contents) {
        bytes.extend(writer.version(version.clone(), content));
        let mut expected = version;
        expected.content_bytes = content.map(|c| c.len() as u64);
        expected.content_sha256 = content.map(|c| sha256_hex(c.as_bytes()));
        entries.push(Entry::Version(expected, content.map(str::to_string)));
    }
    let first = event(10, &hex(&[0; 32]));
    let second = event(11, &first.hash.clone());
    for event in [first, second] {
        bytes.extend(writer.event(&event));
        entries.push(Entry::Event(event));
    }
    let trailer_bytes = writer.trailer();
    let trailer: Trailer =
        match serde_json::from_slice::<Line>(&trailer_bytes[..trailer_bytes.len() - 1]) {
            Ok(Line::Trailer(trailer)) => trailer,
            other => panic!("{other:?}"),
        };
    bytes.extend(trailer_bytes);
    entries.push(Entry::Trailer(trailer));
    (bytes, entries)
}

fn read_all(bytes: &[u8]) -> Result<Vec<Entry>, ArchiveError> {
    let mut reader = Reader::new(bytes);
    let mut entries = Vec::new();
    while let Some(record) = reader.next_record()? {
        entries.push(record.entry);
    }
    reader.finish()?;
    Ok(entries)
}

#[test]
fn an_archive_reads_back_as_written() {
    let (bytes, entries) = sample();
    assert_eq!(read_all(&bytes).unwrap(), entries);
    let position = verify(&bytes[..], |_, _| {}).unwrap();
    assert_eq!((position.versions, position.events), (4, 2));
    assert_eq!(position.content_bytes, 5 + 19);
    assert_eq!(position.records, 7);
}

#[test]
fn every_truncation_is_refused() {
    let (bytes, _) = sample();
    for length in 0..bytes.len() {
        let error = read_all(&bytes[..length]).unwrap_err();
        assert!(
            matches!(error, ArchiveError::Truncated(_)),
            "cut at {length}: {error}"
        );
    }
}

#[test]
fn every_altered_byte_is_refused() {
    let (bytes, _) = sample();
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut altered = bytes.clone();
            altered[at] ^= flip;
            assert!(
                read_all(&altered).is_err(),
                "byte {at} ({:?}) ^ {flip:#x} was not noticed",
                char::from(bytes[at])
            );
        }
    }
}

#[test]
fn records_out_of_order_are_refused() {
    let mut writer = Writer::new();
    let lone = writer.version(version("/a.md", 1, "write", Some(1)), Some("x"));
    let error = read_all(&lone).unwrap_err();
    assert!(
        error.to_string().contains("begin with its header"),
        "{error}"
    );

    let mut writer = Writer::new();
    let mut bytes = writer.header(&header());
    bytes.extend(writer.event(&event(10, &hex(&[0; 32]))));
    bytes.extend(writer.version(version("/a.md", 1, "write", Some(1)), Some("x")));
    let error = read_all(&bytes).unwrap_err();
    assert!(
        error.to_string().contains("after the audit events"),
        "{error}"
    );

    let (mut bytes, _) = sample();
    bytes.extend(Writer::new().header(&header()));
    let error = read_all(&bytes).unwrap_err();
    assert!(error.to_string().contains("after the trailer"), "{error}");
}

#[test]
fn another_version_of_the_format_is_refused_by_name() {
    let mut newer = header();
    newer.version = FORMAT_VERSION + 1;
    let mut writer = Writer::new();
    let mut bytes = writer.header(&newer);
    bytes.extend(writer.trailer());
    let error = read_all(&bytes).unwrap_err();
    assert!(
        error.to_string().contains("this build reads version 1"),
        "{error}"
    );
}

/// A reader resumed from the position after any record reads the rest as
/// the whole-archive reader does: what a server taking chunks relies on.
#[test]
fn reading_resumes_at_any_record_boundary() {
    let (bytes, entries) = sample();
    let mut boundaries = Vec::new();
    let mut reader = Reader::new(&bytes[..]);
    while reader.next_record().unwrap().is_some() {
        boundaries.push((reader.offset() as usize, *reader.position()));
    }
    for (at, position) in boundaries {
        let mut reader = Reader::resume(&bytes[at..], position);
        let mut rest = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            rest.push(record.entry);
        }
        reader.finish().unwrap();
        assert_eq!(rest[..], entries[entries.len() - rest.len()..]);
    }
}

#[test]
fn digests_parse_back_from_hex() {
    let digest: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
    assert_eq!(parse_digest(&hex(&digest)), Some(digest));
    assert_eq!(parse_digest("00"), None);
    assert_eq!(parse_digest(&"G".repeat(64)), None);
}
