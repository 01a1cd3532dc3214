//! Versions as entity tags, and the conditional-request headers that carry
//! them. One rule for both sides: a version `V` is the strong tag `"V"`; a
//! weak `W/"V"` is accepted when parsing.

use crate::txn::PreconditionFields;

/// The `ETag` of a file version.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// Parses an entity tag holding a version: `"5"`, or weak `W/"5"`.
pub fn parse_etag(value: &str) -> Option<u64> {
    let value = value.trim();
    let value = value.strip_prefix("W/").unwrap_or(value);
    value.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// The precondition that `If-Match` / `If-None-Match` express on a write:
/// `If-Match: "V"` (version V), `If-Match: *` (exists), `If-None-Match: *`
/// (absent). The error is a sentence for an `invalid_request` problem.
pub fn preconditions_from_headers(
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<PreconditionFields, String> {
    let not_a_tag = |name: &str, value: &str| {
        format!("{name}: {value:?} is not a version tag such as \"3\" or *")
    };
    let mut fields = PreconditionFields::default();
    match (if_match.map(str::trim), if_none_match.map(str::trim)) {
        (None, None) => {}
        (Some("*"), None) => fields.if_exists = true,
        (Some(value), None) => {
            fields.if_version = Some(parse_etag(value).ok_or_else(|| not_a_tag("If-Match", value))?)
        }
        (None, Some("*")) => fields.if_absent = true,
        (None, Some(value)) => {
            return Err(not_a_tag(
                "If-None-Match (only * is supported on writes)",
                value,
            ));
        }
        (Some(_), Some(_)) => {
            return Err("send at most one of If-Match and If-None-Match".to_string());
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_weak_tags_parse() {
        assert_eq!(parse_etag(&etag(17)), Some(17));
        assert_eq!(parse_etag(" W/\"3\" "), Some(3));
        assert_eq!(parse_etag("3"), None);
        assert_eq!(parse_etag("\"x\""), None);
    }

    #[test]
    fn conditional_headers_become_preconditions() {
        let fields = |m, n| preconditions_from_headers(m, n);
        assert_eq!(fields(None, None).unwrap(), PreconditionFields::default());
        assert_eq!(fields(Some("\"4\""), None).unwrap().if_version, Some(4));
        assert!(fields(Some("*"), None).unwrap().if_exists);
        assert!(fields(None, Some("*")).unwrap().if_absent);
        assert!(fields(Some("4"), None).unwrap_err().contains("If-Match"));
        assert!(fields(None, Some("\"4\"")).is_err());
        assert!(fields(Some("*"), Some("*")).is_err());
    }
}
