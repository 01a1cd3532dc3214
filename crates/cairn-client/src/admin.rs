//! Probes (`/health`, `/ready`) and the admin routes (`/v1/admin/*`,
//! `/metrics`): a node's Raft view and membership changes. Any node answers;
//! the server forwards membership changes to the leader.

use std::collections::BTreeMap;

use hyper::Method;

use cairn_api::{DigestView, Health, LearnerRequest, NodeStatusView};

use crate::transport::Outgoing;
use crate::{Client, ClientError};

impl Client {
    /// `GET /health`: the process is up.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.call_json(Outgoing::get("/health")).await
    }

    /// `GET /ready`: `Ok` only on `200` (a leader is known and applied is caught up).
    pub async fn ready(&self) -> Result<(), ClientError> {
        let response = self.execute(Outgoing::get("/ready")).await?;
        if response.status == 200 {
            Ok(())
        } else if response.is_success() {
            Err(ClientError::Http {
                status: response.status,
                body: response.text(),
            })
        } else {
            Err(response.into_error())
        }
    }

    /// `GET /v1/admin/status`.
    pub async fn status(&self) -> Result<NodeStatusView, ClientError> {
        self.call_json(Outgoing::get("/v1/admin/status")).await
    }

    /// `GET /v1/admin/digest`.
    pub async fn digest(&self) -> Result<DigestView, ClientError> {
        self.call_json(Outgoing::get("/v1/admin/digest")).await
    }

    /// `POST /v1/admin/init`: makes a never-initialized node a one-member
    /// cluster; does nothing to one that already is in a cluster.
    pub async fn init(&self) -> Result<NodeStatusView, ClientError> {
        self.call_json(Outgoing::new(Method::POST, "/v1/admin/init"))
            .await
    }

    /// `POST /v1/admin/learners`: starts replicating to a new node.
    pub async fn add_learner(
        &self,
        node_id: u64,
        raft_addr: &str,
        api_addr: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<NodeStatusView, ClientError> {
        let request = LearnerRequest {
            node_id,
            raft_addr: raft_addr.to_string(),
            api_addr: api_addr.to_string(),
            tags,
        };
        self.add_learner_request(&request).await
    }

    /// [`Client::add_learner`] with the body already built.
    pub async fn add_learner_request(
        &self,
        request: &LearnerRequest,
    ) -> Result<NodeStatusView, ClientError> {
        let outgoing = Outgoing::new(Method::POST, "/v1/admin/learners").json_body(request)?;
        self.call_json(outgoing).await
    }

    /// `POST /v1/admin/voters/{id}`: makes a learner a voter.
    pub async fn promote(&self, node_id: u64) -> Result<NodeStatusView, ClientError> {
        self.call_json(Outgoing::new(
            Method::POST,
            format!("/v1/admin/voters/{node_id}"),
        ))
        .await
    }

    /// `DELETE /v1/admin/members/{id}`: removes a voter or a learner.
    pub async fn remove_member(&self, node_id: u64) -> Result<NodeStatusView, ClientError> {
        self.call_json(Outgoing::new(
            Method::DELETE,
            format!("/v1/admin/members/{node_id}"),
        ))
        .await
    }

    /// `GET /metrics`: Prometheus text exposition.
    pub async fn metrics_text(&self) -> Result<String, ClientError> {
        self.call(Outgoing::get("/metrics"))
            .await?
            .into_text("metrics")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::recording_server;

    /// A status as the server writes it (`cairn-server`'s `admin_status`).
    const LEADER_STATUS: &str = r#"{
        "node_id": 1,
        "self": {"raft_addr": "127.0.0.1:7701", "api_addr": "127.0.0.1:7700", "tags": {"region": "eu"}},
        "state": "Leader",
        "current_term": 3,
        "current_leader": 1,
        "last_log_index": 42,
        "committed_index": 42,
        "last_applied": 42,
        "snapshot_index": null,
        "purged_index": null,
        "voters": [1, 2],
        "learners": [3],
        "nodes": {
            "1": {"raft_addr": "127.0.0.1:7701", "api_addr": "127.0.0.1:7700", "tags": {"region": "eu"}},
            "2": {"raft_addr": "127.0.0.1:7711", "api_addr": "127.0.0.1:7710", "tags": {}},
            "3": {"raft_addr": "127.0.0.1:7721", "api_addr": "127.0.0.1:7720", "tags": {}}
        },
        "matched": {"1": 42, "2": 40, "3": null},
        "staleness_ms": 0,
        "running": true,
        "a_field_from_the_future": [1, 2, 3]
    }"#;

    #[test]
    fn status_decodes_the_server_json() {
        let status: NodeStatusView = serde_json::from_str(LEADER_STATUS).unwrap();
        assert_eq!(status.node_id, 1);
        assert!(status.is_leader());
        assert_eq!(status.self_node.region(), Some("eu"));
        assert_eq!(status.nodes[&2].api_addr, "127.0.0.1:7710");
        assert_eq!(status.nodes[&2].region(), None);
        assert_eq!(status.matched[&2], Some(40));
        assert_eq!(status.matched[&3], None);
        assert!(status.is_member(3) && status.is_member(2) && !status.is_member(4));
        assert_eq!(status.staleness_ms, Some(0));

        // Serializing keeps the wire names (`self`), so it decodes again.
        let text = serde_json::to_string(&status).unwrap();
        assert!(text.contains("\"self\""));
        let again: NodeStatusView = serde_json::from_str(&text).unwrap();
        assert_eq!(again, status);

        let request = LearnerRequest::from_status(&status);
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({
                "node_id": 1,
                "raft_addr": "127.0.0.1:7701",
                "api_addr": "127.0.0.1:7700",
                "tags": {"region": "eu"}
            })
        );
    }

    #[tokio::test]
    async fn admin_calls_use_their_routes() {
        let problem = r#"{"type":"about:blank","title":"Conflict","status":409,
            "code":"membership_conflict","detail":"node 3 is not a member","retryable":false}"#;
        let (url, mut requests) = recording_server(vec![
            (200, "application/json", LEADER_STATUS),
            (200, "application/json", LEADER_STATUS),
            (200, "application/json", LEADER_STATUS),
            (409, "application/problem+json", problem),
            (
                200,
                "application/json",
                r#"{"digest":"00ff00ff00ff00ff","last_applied":7}"#,
            ),
            (200, "text/plain; version=0.0.4", "cairn_raft_term 3\n"),
        ])
        .await;
        let client = Client::new(&url).unwrap();

        let tags = BTreeMap::from([("region".to_string(), "eu".to_string())]);
        let status = client.add_learner(4, "h:1", "h:2", tags).await.unwrap();
        assert_eq!(status.node_id, 1);
        let request = requests.recv().await.unwrap();
        assert!(
            request.starts_with("POST /v1/admin/learners HTTP/1.1\r\n"),
            "{request}"
        );
        let body = request.split("\r\n\r\n").nth(1).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).unwrap(),
            serde_json::json!({"node_id": 4, "raft_addr": "h:1", "api_addr": "h:2", "tags": {"region": "eu"}})
        );

        client.promote(4).await.unwrap();
        let request = requests.recv().await.unwrap();
        assert!(
            request.starts_with("POST /v1/admin/voters/4 HTTP/1.1\r\n"),
            "{request}"
        );

        client.init().await.unwrap();
        let request = requests.recv().await.unwrap();
        assert!(
            request.starts_with("POST /v1/admin/init HTTP/1.1\r\n"),
            "{request}"
        );

        let error = client.remove_member(3).await.unwrap_err();
        assert_eq!(error.code(), "membership_conflict");
        assert!(error.is_client_error());
        let request = requests.recv().await.unwrap();
        assert!(
            request.starts_with("DELETE /v1/admin/members/3 HTTP/1.1\r\n"),
            "{request}"
        );

        let digest = client.digest().await.unwrap();
        assert_eq!(
            (digest.digest.as_str(), digest.last_applied),
            ("00ff00ff00ff00ff", Some(7))
        );
        let request = requests.recv().await.unwrap();
        assert!(
            request.starts_with("GET /v1/admin/digest HTTP/1.1\r\n"),
            "{request}"
        );

        assert_eq!(client.metrics_text().await.unwrap(), "cairn_raft_term 3\n");
        let request = requests.recv().await.unwrap();
        assert!(
            request.starts_with("GET /metrics HTTP/1.1\r\n"),
            "{request}"
        );
    }

    #[test]
    fn follower_status_has_nulls() {
        let text = r#"{"node_id": 2, "self": {"raft_addr": "a:1", "api_addr": "a:2", "tags": {}},
            "state": "Follower", "current_term": 3, "current_leader": null,
            "last_log_index": null, "committed_index": null, "last_applied": null,
            "snapshot_index": null, "purged_index": null, "voters": [], "learners": [],
            "nodes": {}, "matched": {}, "staleness_ms": null, "running": true}"#;
        let status: NodeStatusView = serde_json::from_str(text).unwrap();
        assert!(!status.is_leader());
        assert_eq!(status.last_applied, None);
        assert_eq!(status.staleness_ms, None);
    }
}
