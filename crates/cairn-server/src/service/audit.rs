//! The audit trail: queries across every store the caller may see, one
//! store's events, and the verification of a store's chain.
//!
//! Who sees which events is decided here, per event: a live store's events
//! by whoever may read the store; a deleted store's, and an organization's
//! own events (users, tokens), by the organization's admins; the cluster's
//! (bootstrap, operator tokens) by the operator.

use cairn_api::{AuditPage, AuditQuery, AuditVerify, Consistency, GlobalAuditQuery};
use cairn_core::audit::ChainKey;
use cairn_core::auth::{self, Subject};
use cairn_core::read::{self, AuditFilter, EventPlace};
use cairn_core::{CoreError, KvRead, StorageError, StoreName};

use super::{RequestContext, Service, ServiceResult, org_name, wire};

impl Service {
    /// A page of events, in log order, of every store and organization the
    /// caller may see (the operator: every one, or the organization
    /// `X-Cairn-Org` names).
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), request_id = %context.request_id))]
    pub async fn audit(
        &self,
        context: &RequestContext,
        query: GlobalAuditQuery,
    ) -> ServiceResult<AuditPage> {
        let limit = self.page_limit(query.limit)?;
        let store = query.store.as_deref().map(StoreName::parse).transpose()?;
        let mut filter = self.audit_filter(&query)?;
        let org = org_name(context)?;
        let names_org = context.org.is_some();
        let page = self
            .read_as(
                context,
                query.consistency.unwrap_or_default(),
                |reader, subject| {
                    let org = auth::resolve_org(reader, subject, org.as_ref())?;
                    if !subject.is_operator() || names_org {
                        filter.org_id = Some(org.id);
                    }
                    if let Some(store) = &store {
                        filter.stores =
                            Some(read::audit_store_ids(reader, org.id, store.as_str())?);
                    }
                    let query = read::AuditQuery {
                        filter,
                        after: query.after,
                        limit,
                        candidates_max: read::AUDIT_CANDIDATES_MAX,
                    };
                    read::audit(reader, &query, &mut |place| visible(reader, subject, place))
                },
            )
            .await?;
        Ok(wire::audit_page(page))
    }

    /// A page of one live store's events, in log order.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn store_audit(
        &self,
        context: &RequestContext,
        store: &str,
        query: AuditQuery,
    ) -> ServiceResult<AuditPage> {
        let consistency = query.consistency.unwrap_or_default();
        let query = GlobalAuditQuery::for_store(query);
        let limit = self.page_limit(query.limit)?;
        let mut filter = self.audit_filter(&query)?;
        let page = self
            .read_in_store(context, store, consistency, |reader, _, info| {
                filter.stores = Some(vec![info.id]);
                let query = read::AuditQuery {
                    filter,
                    after: query.after,
                    limit,
                    candidates_max: read::AUDIT_CANDIDATES_MAX,
                };
                // The caller may read the store, and every event is the store's.
                read::audit(reader, &query, &mut |_| Ok(true))
            })
            .await?;
        Ok(wire::audit_page(page))
    }

    /// Recomputes the store's chain and reports its first break, if any.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn verify_audit(
        &self,
        context: &RequestContext,
        store: &str,
        consistency: Consistency,
    ) -> ServiceResult<AuditVerify> {
        let info = self
            .read_in_store(context, store, consistency, |_, _, info| Ok(info.clone()))
            .await?;
        // The chain is read whole (a million events for a store with as many
        // versions), so in the background. From the state as it is then,
        // which holds at least what the authorizing read saw.
        let chain = ChainKey::Store(info.id);
        let report = self
            .node
            .read_in_background(
                cairn_raft::Consistency::Stale,
                "audit-verify",
                move |reader| Ok(read::verify_chain(reader, chain)?),
            )
            .await??;
        Ok(wire::audit_verify(info, report))
    }

    /// The query's filters, checked: labels must not be empty, a path must
    /// be a path.
    fn audit_filter(&self, query: &GlobalAuditQuery) -> ServiceResult<AuditFilter> {
        let label = |name: &str, value: &Option<String>| match value.as_deref() {
            Some("") => Err(CoreError::invalid_request(format!(
                "{name} must not be empty"
            ))),
            other => Ok(other.map(str::to_string)),
        };
        let path = match query.path.as_deref() {
            Some(path) => Some(self.dir_path(path)?.as_str().to_string()),
            None => None,
        };
        Ok(AuditFilter {
            stores: None,
            path,
            agent: label("agent", &query.agent)?,
            session: label("session", &query.session)?,
            principal: label("principal", &query.principal)?,
            token_id: label("token", &query.token)?,
            since_ms: query.since,
            until_ms: query.until,
            from_revision: query.from_revision,
            to_revision: query.to_revision,
            org_id: None,
        })
    }
}

/// Whether `subject` may see an event that happened at `place`.
fn visible(
    reader: &(impl KvRead + ?Sized),
    subject: &Subject,
    place: EventPlace<'_>,
) -> Result<bool, StorageError> {
    Ok(match place {
        EventPlace::Cluster => subject.is_operator(),
        EventPlace::Org(org_id) | EventPlace::DeletedStore { org_id, .. } => {
            subject.manages_org(org_id)
        }
        EventPlace::LiveStore(info) => auth::store_access(reader, subject, info)?.is_some(),
    })
}

impl Service {
    /// Records in the audit trail that the caller was refused `operation` on
    /// `store` (a store they can see). Best effort: the refusal is already
    /// the caller's answer, so a failure to record it is logged, not returned.
    pub(crate) async fn record_refusal(
        &self,
        context: &RequestContext,
        store: &str,
        operation: &str,
        reason: &str,
    ) {
        let label_max = usize::try_from(self.limits.label_bytes_max).unwrap_or(usize::MAX);
        let clip = |text: &str| {
            let mut end = text.len().min(label_max);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[..end].to_string()
        };
        let recorded = async {
            let (subject, store) = self
                .authorize_store(context, store, cairn_core::Access::Read)
                .await?;
            let command = cairn_core::Command::RecordRefusal {
                store,
                operation: clip(operation),
                reason: clip(reason),
            };
            self.propose(context, &subject, command).await
        };
        if let Err(error) = recorded.await {
            tracing::warn!(%error, operation, "could not record a refusal in the audit trail");
        }
    }
}
