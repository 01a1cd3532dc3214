//! `cairn audit`: audit events of a store or of every store the token may
//! see, and `cairn audit verify STORE`.

use cairn_client::{AuditQuery, GlobalAuditQuery};

use crate::cli::{AuditArgs, AuditCommand};
use crate::commands::Context;
use crate::exit::Failure;
use crate::render;

/// The global `--agent` and `--session`: in `cairn audit`, filters.
pub struct Labels {
    pub agent: Option<String>,
    pub session: Option<String>,
}

pub async fn run(context: Context, args: AuditArgs, labels: Labels) -> Result<Vec<u8>, Failure> {
    if let Some(AuditCommand::Verify { store }) = args.command {
        let report = context.client.verify_audit(&store).await?;
        if context.json || report.ok {
            return context.show(&report, render::audit_verify);
        }
        return Err(Failure::Broken(render::audit_verify(&report)));
    }
    let since = args.since.as_deref().map(parse_time).transpose()?;
    let until = args.until.as_deref().map(parse_time).transpose()?;
    let query = GlobalAuditQuery {
        store: None,
        session: labels.session,
        agent: labels.agent,
        principal: args.principal,
        token: args.token_id,
        path: args.path,
        since,
        until,
        from_revision: args.from_revision,
        to_revision: args.to_revision,
        after: args.after,
        limit: args.limit,
        consistency: None,
    };
    let page = match &args.store {
        Some(store) => {
            let query = AuditQuery {
                session: query.session,
                agent: query.agent,
                principal: query.principal,
                token: query.token,
                path: query.path,
                since: query.since,
                until: query.until,
                from_revision: query.from_revision,
                to_revision: query.to_revision,
                after: query.after,
                limit: query.limit,
                consistency: None,
            };
            context.client.store_audit(store, query).await?
        }
        None => context.client.audit_all(query).await?,
    };
    context.show(&page, render::audit)
}

/// RFC 3339 (`2025-01-31T12:00:00Z`) or milliseconds since the Unix epoch.
fn parse_time(text: &str) -> Result<u64, Failure> {
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|time| u64::try_from(time.timestamp_millis()).ok())
        .ok_or_else(|| {
            Failure::usage(
                "usage",
                format!("{text:?} is neither RFC 3339 nor milliseconds since the epoch"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_or_milliseconds() {
        assert_eq!(parse_time("1700000000123").unwrap(), 1_700_000_000_123);
        assert_eq!(
            parse_time("2023-11-14T22:13:20.123Z").unwrap(),
            1_700_000_000_123
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20.123+01:00").unwrap(),
            1_700_000_000_123
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("1969-01-01T00:00:00Z").is_err());
    }
}
