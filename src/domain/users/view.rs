//! What the account endpoints take and answer: create and patch bodies, the user as shown
//! (never a hash or a key), and credentials handed out once.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::names::NAME_RULE;
use crate::store::{Account, UserRecord};

/// A create request: a person (with `email`) or a machine user (with `label`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUser {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub username: String,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub surname: Option<String>,
    pub title: Option<String>,
    pub label: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub password: Option<String>,
}

/// A `PATCH /be/v1/users` body: profile fields, an own password change, or a credential reset.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPatch {
    pub username: String,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub surname: Option<String>,
    pub title: Option<String>,
    pub label: Option<String>,
    pub roles: Option<Vec<String>>,
    #[serde(rename = "oldPW")]
    pub old_pw: Option<String>,
    #[serde(rename = "newPW")]
    pub new_pw: Option<String>,
    #[serde(default)]
    pub reset_creds: bool,
}

/// A user as the API shows it: never a hash or a key.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub username: String,
    /// `person` or `machine`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firstname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub roles: Vec<String>,
    /// A machine user's API keys (ids and labels, never secrets), in its details only: what an
    /// administrator needs to revoke one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<Vec<ApiKeyView>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// One API key of a machine user, as its details list it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub key_id: String,
    pub label: String,
    pub created: DateTime<Utc>,
}

impl From<UserRecord> for UserView {
    fn from(user: UserRecord) -> Self {
        let mut view = UserView {
            username: user.username,
            kind: "person",
            email: None,
            firstname: None,
            surname: None,
            title: None,
            label: None,
            roles: user.roles,
            api_keys: None,
            created: user.created,
            updated: user.updated,
        };
        match user.account {
            Account::Person {
                email,
                firstname,
                surname,
                title,
                ..
            } => {
                view.email = Some(email);
                view.firstname = Some(firstname);
                view.surname = Some(surname);
                view.title = title;
            }
            Account::Machine { label } => {
                view.kind = "machine";
                view.label = Some(label);
            }
        }
        view
    }
}

/// Credentials handed out once: a generated password or a new API key.
#[derive(Debug, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCredentials {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// A user with the credentials issued by the call that returned it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UserWithCredentials {
    pub user: UserView,
    #[serde(flatten)]
    pub credentials: IssuedCredentials,
}
