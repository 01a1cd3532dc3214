//! Organizations, users, tokens and grants.

use hyper::Method;

use cairn_api::{
    Access, ConsistencyQuery, CreateOrgRequest, CreateStoreRequest, CreateTokenRequest,
    CreateUserRequest, Grant, GrantList, GrantRequest, Org, OrgList, Role, StoreInfo, TokenCreated,
    TokenList, TokenView, User, UserList, WhoAmI,
};

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

impl Client {
    /// The caller as the node sees them.
    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.call_json(Outgoing::get(Target::v1(&["whoami"]).into_string()))
            .await
    }

    /// Creates a user-scoped store owned by `owner` (`None`: organization-scoped).
    pub async fn create_store_owned(
        &self,
        store: &str,
        owner: Option<&str>,
    ) -> Result<StoreInfo, ClientError> {
        let body = CreateStoreRequest {
            owner: owner.map(str::to_string),
        };
        let target = Target::store(store).into_string();
        self.call_json(Outgoing::new(Method::PUT, target).json_body(&body)?)
            .await
    }

    pub async fn create_org(&self, name: &str) -> Result<Org, ClientError> {
        let body = CreateOrgRequest {
            name: name.to_string(),
        };
        let target = Target::v1(&["orgs"]).into_string();
        self.call_json(Outgoing::new(Method::POST, target).json_body(&body)?)
            .await
    }

    pub async fn list_orgs(&self) -> Result<Vec<Org>, ClientError> {
        let target = Target::v1(&["orgs"]).with_query(&self.consistency())?;
        let list: OrgList = self.call_json(Outgoing::get(target)).await?;
        Ok(list.orgs)
    }

    pub async fn create_user(
        &self,
        org: &str,
        name: &str,
        role: Role,
    ) -> Result<User, ClientError> {
        let body = CreateUserRequest {
            name: name.to_string(),
            role: Some(role),
        };
        let target = Target::v1(&["orgs", org, "users"]).into_string();
        self.call_json(Outgoing::new(Method::POST, target).json_body(&body)?)
            .await
    }

    pub async fn list_users(&self, org: &str) -> Result<Vec<User>, ClientError> {
        let target = Target::v1(&["orgs", org, "users"]).with_query(&self.consistency())?;
        let list: UserList = self.call_json(Outgoing::get(target)).await?;
        Ok(list.users)
    }

    /// Makes a token for `user`; the answer holds the token, shown only now.
    pub async fn create_token(
        &self,
        org: &str,
        user: &str,
        request: &CreateTokenRequest,
    ) -> Result<TokenCreated, ClientError> {
        let target = Target::v1(&["orgs", org, "users", user, "tokens"]).into_string();
        self.call_json(Outgoing::new(Method::POST, target).json_body(request)?)
            .await
    }

    pub async fn list_tokens(&self, org: &str, user: &str) -> Result<Vec<TokenView>, ClientError> {
        let target =
            Target::v1(&["orgs", org, "users", user, "tokens"]).with_query(&self.consistency())?;
        let list: TokenList = self.call_json(Outgoing::get(target)).await?;
        Ok(list.tokens)
    }

    pub async fn revoke_token(&self, id: &str) -> Result<TokenView, ClientError> {
        let target = Target::v1(&["tokens", id]).into_string();
        self.call_json(Outgoing::new(Method::DELETE, target)).await
    }

    /// Gives `user` `access` on `store`.
    pub async fn grant(
        &self,
        store: &str,
        user: &str,
        access: Access,
    ) -> Result<Grant, ClientError> {
        let target = Target::v1(&["stores", store, "grants", user]).into_string();
        let body = GrantRequest { access };
        self.call_json(Outgoing::new(Method::PUT, target).json_body(&body)?)
            .await
    }

    /// Removes `user`'s grant on `store`.
    pub async fn revoke_grant(&self, store: &str, user: &str) -> Result<Grant, ClientError> {
        let target = Target::v1(&["stores", store, "grants", user]).into_string();
        self.call_json(Outgoing::new(Method::DELETE, target)).await
    }

    pub async fn list_grants(&self, store: &str) -> Result<Vec<Grant>, ClientError> {
        let target = Target::v1(&["stores", store, "grants"]).with_query(&self.consistency())?;
        let list: GrantList = self.call_json(Outgoing::get(target)).await?;
        Ok(list.grants)
    }

    fn consistency(&self) -> ConsistencyQuery {
        ConsistencyQuery {
            consistency: self.consistency,
        }
    }
}
