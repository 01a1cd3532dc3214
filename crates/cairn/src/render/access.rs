//! Organizations, users and tokens.

use cairn_client::TokenView;
use cairn_client::api::{OrgList, UserList};

use crate::render::{format_time_ms, table};

pub fn orgs(list: &OrgList) -> String {
    let mut rows = vec![vec!["ID".to_string(), "NAME".to_string()]];
    for org in &list.orgs {
        rows.push(vec![org.id.to_string(), org.name.clone()]);
    }
    table(&rows)
}

pub fn users(list: &UserList) -> String {
    let mut rows = vec![vec!["USER".to_string(), "ROLE".to_string()]];
    for user in &list.users {
        rows.push(vec![
            user.name.clone(),
            format!("{:?}", user.role).to_lowercase(),
        ]);
    }
    table(&rows)
}

pub fn tokens(tokens: &[TokenView]) -> String {
    if tokens.is_empty() {
        return "no tokens\n".to_string();
    }
    let mut rows = vec![vec![
        "ID".to_string(),
        "AGENT".to_string(),
        "CREATED".to_string(),
        "EXPIRES".to_string(),
        "REVOKED".to_string(),
    ]];
    let time = |time: Option<u64>| time.map_or_else(|| "-".to_string(), format_time_ms);
    for token in tokens {
        rows.push(vec![
            token.id.clone(),
            token.agent.clone().unwrap_or_else(|| "-".to_string()),
            format_time_ms(token.created_ms),
            time(token.expires_ms),
            time(token.revoked_ms),
        ]);
    }
    table(&rows)
}
