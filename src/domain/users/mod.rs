//! Accounts: persons (password) and machine users (API keys), always within the caller's org.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::Utc;

use super::caller::Caller;
use super::listing::{ListParams, Page};
use super::names::check_name;
use super::permissions::{ADMINISTRATORS, Permission, UPDATE};
use super::text::{PERSON_MAX_CHARS, check_email, check_label, check_text};
use super::{DomainError, blocking, found, in_org};
use crate::auth::tokens::secret_hash;
use crate::auth::{apikey, password};
use crate::store::{
    API_KEYS, Account, ApiKeyRecord, ROLES, Store, USERS, UserRecord, WriteTx, end_sessions,
    org_key, org_prefix, put_user, remove_user,
};

mod view;

pub use view::{ApiKeyView, IssuedCredentials, NewUser, UserPatch, UserView, UserWithCredentials};

const BE_USERS_UPDATE: Permission = Permission::new("beUsers", UPDATE);

/// Account rules.
#[derive(Clone)]
pub struct UserService {
    store: Store,
}

/// A password of [`MIN_PASSWORD_LEN`] to [`MAX_PASSWORD_LEN`] characters.
pub(super) fn check_password(field: &str, value: &str) -> Result<(), DomainError> {
    let length = value.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&length) {
        return Err(DomainError::invalid(
            field,
            format!("must have {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// Shortest password accepted for a person.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Longest password accepted (hashing cost grows with it).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Bounds every free-text field a create or patch carries.
fn check_profile(
    email: Option<&str>,
    firstname: Option<&str>,
    surname: Option<&str>,
    title: Option<&str>,
    label: Option<&str>,
) -> Result<(), DomainError> {
    if let Some(email) = email {
        check_email("email", email)?;
    }
    for (field, value) in [
        ("firstname", firstname),
        ("surname", surname),
        ("title", title),
    ] {
        if let Some(value) = value {
            check_text(field, value, PERSON_MAX_CHARS)?;
        }
    }
    if let Some(label) = label {
        check_label("label", label)?;
    }
    Ok(())
}

async fn hash_password(secret: String) -> Result<String, DomainError> {
    blocking(move || {
        password::hash(&secret)
            .map_err(|e| DomainError::Internal(format!("cannot hash password: {e}")))
    })
    .await
}

/// Every role name must exist in the org, and the caller must hold every bit of each role it
/// newly assigns (those not in `held`).
fn check_roles(
    tx: &WriteTx,
    caller: &Caller,
    roles: &[String],
    held: &[String],
) -> Result<Vec<String>, DomainError> {
    let table = tx.open(&ROLES)?;
    roles
        .iter()
        .map(|name| {
            let role = table
                .get(org_key(&caller.org, name).as_str())?
                .filter(|role| &role.name == name)
                .ok_or_else(|| {
                    DomainError::invalid("roles", format!("no role {name} in this org"))
                })?;
            if !held.contains(&role.name) {
                caller.may_grant(&role.permissions, &BTreeMap::new())?;
            }
            Ok(role.name)
        })
        .collect()
}

/// Refuses a change that would leave the org without any `Administrators` holder.
fn keep_an_administrator(tx: &WriteTx, org: &str, losing: &str) -> Result<(), DomainError> {
    let holders = tx
        .open(&USERS)?
        .with_prefix(&org_prefix(org))?
        .into_iter()
        .filter(|(_, u)| u.roles.iter().any(|r| r == ADMINISTRATORS))
        .filter(|(_, u)| !u.username.eq_ignore_ascii_case(losing))
        .count();
    if holders == 0 {
        return Err(DomainError::Protected(format!(
            "{losing} is the last holder of {ADMINISTRATORS}; give the role to another user first"
        )));
    }
    Ok(())
}

/// Stores a new API key for a machine user; returns the key to show once.
pub(super) fn add_api_key(
    tx: &WriteTx,
    org: &str,
    username: &str,
    label: &str,
) -> Result<(String, String), DomainError> {
    let key = apikey::mint();
    tx.open(&API_KEYS)?.put(
        key.id.as_str(),
        &ApiKeyRecord {
            id: key.id.clone(),
            org: org.to_string(),
            username: username.to_string(),
            label: label.to_string(),
            secret_hash: secret_hash(&key.secret),
            created: Utc::now(),
        },
    )?;
    Ok((key.full, key.id))
}

impl UserService {
    /// Users in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Creates a person or a machine user in the caller's org.
    pub async fn create(
        &self,
        caller: &Caller,
        new: NewUser,
    ) -> Result<UserWithCredentials, DomainError> {
        check_name("username", &new.username)?;
        check_profile(
            new.email.as_deref(),
            new.firstname.as_deref(),
            new.surname.as_deref(),
            new.title.as_deref(),
            new.label.as_deref(),
        )?;
        let mut issued = IssuedCredentials::default();
        let now = Utc::now();
        let account = match (&new.email, &new.label) {
            (Some(email), _) => {
                let secret = match &new.password {
                    Some(given) => {
                        check_password("password", given)?;
                        given.clone()
                    }
                    None => {
                        let generated = password::generate();
                        issued.password = Some(generated.clone());
                        generated
                    }
                };
                Account::Person {
                    email: email.clone(),
                    firstname: new.firstname.clone().unwrap_or_default(),
                    surname: new.surname.clone().unwrap_or_default(),
                    title: new.title.clone(),
                    password_hash: hash_password(secret).await?,
                }
            }
            (None, Some(label)) => Account::Machine {
                label: label.clone(),
            },
            (None, None) => {
                return Err(DomainError::Missing {
                    field: "email (a person) or label (a machine user)".into(),
                });
            }
        };
        let machine = matches!(account, Account::Machine { .. });
        let (org, granter) = (caller.org.clone(), caller.clone());
        let (username, roles) = (new.username, new.roles);
        let (user, key) = in_org(&self.store, caller)
            .write(move |tx| {
                if tx
                    .open(&USERS)?
                    .get(org_key(&org, &username).as_str())?
                    .is_some()
                {
                    return Err(DomainError::Exists {
                        what: format!("user {username}"),
                    });
                }
                let user = UserRecord {
                    roles: check_roles(tx, &granter, &roles, &[])?,
                    org: org.clone(),
                    username,
                    account,
                    created: now,
                    updated: now,
                };
                put_user(tx, &user)?;
                let key = if machine {
                    Some(add_api_key(tx, &org, &user.username, "initial")?)
                } else {
                    None
                };
                Ok((user, key))
            })
            .await?;
        if let Some((full, id)) = key {
            issued.api_key = Some(full);
            issued.key_id = Some(id);
        }
        Ok(UserWithCredentials {
            user: user.into(),
            credentials: issued,
        })
    }

    /// A page of the org's users (`order[]`: `username`, `created`, `updated`).
    pub async fn list(
        &self,
        caller: &Caller,
        params: ListParams,
    ) -> Result<Page<UserView>, DomainError> {
        let prefix = org_prefix(&caller.org);
        let users = self
            .store
            .read(move |tx| Ok::<_, DomainError>(tx.open(&USERS)?.with_prefix(&prefix)?))
            .await?;
        let page = params.apply(
            users.into_iter().map(|(_, u)| u).collect(),
            &["username", "created", "updated"],
            |a, b| {
                a.username
                    .to_ascii_lowercase()
                    .cmp(&b.username.to_ascii_lowercase())
            },
            |field, a, b| match field {
                "created" => a.created.cmp(&b.created),
                "updated" => a.updated.cmp(&b.updated),
                "username" => a
                    .username
                    .to_ascii_lowercase()
                    .cmp(&b.username.to_ascii_lowercase()),
                _ => Ordering::Equal,
            },
        )?;
        Ok(Page {
            items: page.items.into_iter().map(UserView::from).collect(),
            total: page.total,
        })
    }

    /// One user of the caller's org; a machine user with its API keys.
    pub async fn get(&self, caller: &Caller, username: &str) -> Result<UserView, DomainError> {
        check_name("user", username)?;
        let (org, username) = (caller.org.clone(), username.to_string());
        self.store
            .read(move |tx| {
                let user = found(
                    tx.open(&USERS)?.named(Some(&org), &username)?,
                    "user",
                    &username,
                )?;
                let machine = matches!(user.account, Account::Machine { .. });
                let mut view = UserView::from(user);
                if machine {
                    let mut keys = Vec::new();
                    tx.open(&API_KEYS)?.scan::<&str>(.., |_, key| {
                        if key.belongs_to(&org, &view.username) {
                            keys.push(ApiKeyView {
                                key_id: key.id,
                                label: key.label,
                                created: key.created,
                            });
                        }
                        std::ops::ControlFlow::Continue(())
                    })?;
                    keys.sort_by_key(|key| key.created);
                    view.api_keys = Some(keys);
                }
                Ok(view)
            })
            .await
    }

    /// Applies a profile change, an own password change or a credential reset.
    pub async fn patch(
        &self,
        caller: &Caller,
        patch: UserPatch,
    ) -> Result<UserWithCredentials, DomainError> {
        check_profile(
            patch.email.as_deref(),
            patch.firstname.as_deref(),
            patch.surname.as_deref(),
            patch.title.as_deref(),
            patch.label.as_deref(),
        )?;
        let own_password = patch.old_pw.is_some() || patch.new_pw.is_some();
        if own_password {
            if !caller.is(&patch.username) {
                return Err(DomainError::invalid(
                    "oldPW",
                    "only the user itself changes its password; administrators use resetCreds",
                ));
            }
        } else if patch.reset_creds || patch.roles.is_some() {
            caller.require(BE_USERS_UPDATE)?;
        } else {
            caller.require_self_or(&patch.username, BE_USERS_UPDATE)?;
        }
        let new_hash = match (&patch.old_pw, &patch.new_pw) {
            (Some(_), Some(new_pw)) => {
                check_password("newPW", new_pw)?;
                Some(hash_password(new_pw.clone()).await?)
            }
            (None, None) => None,
            (None, Some(_)) => {
                return Err(DomainError::Missing {
                    field: "oldPW".into(),
                });
            }
            (Some(_), None) => {
                return Err(DomainError::Missing {
                    field: "newPW".into(),
                });
            }
        };
        let reset_password = patch.reset_creds.then(password::generate);
        let reset_hash = match &reset_password {
            Some(secret) => Some(hash_password(secret.clone()).await?),
            None => None,
        };
        let old_pw = patch.old_pw.clone();
        let (org, granter) = (caller.org.clone(), caller.clone());
        let (user, key) = in_org(&self.store, caller)
            .write(move |tx| {
                let named = tx.open(&USERS)?.named(Some(&org), &patch.username)?;
                let mut user = found(named, "user", &patch.username)?;
                if let Some(roles) = &patch.roles {
                    let roles = check_roles(tx, &granter, roles, &user.roles)?;
                    if !roles.iter().any(|r| r == ADMINISTRATORS) {
                        keep_an_administrator(tx, &org, &user.username)?;
                    }
                    user.roles = roles;
                }
                let mut new_key = None;
                let mut credentials_changed = false;
                match &mut user.account {
                    Account::Person {
                        email,
                        firstname,
                        surname,
                        title,
                        password_hash,
                    } => {
                        if patch.label.is_some() {
                            return Err(DomainError::invalid("label", "a person has no label"));
                        }
                        if let (Some(old), Some(hash)) = (&old_pw, new_hash) {
                            if !password::verify(old, password_hash) {
                                return Err(DomainError::invalid(
                                    "oldPW",
                                    "does not match the current password",
                                ));
                            }
                            *password_hash = hash;
                            credentials_changed = true;
                        }
                        if let Some(hash) = reset_hash {
                            *password_hash = hash;
                            credentials_changed = true;
                        }
                        replace(email, patch.email);
                        replace(firstname, patch.firstname);
                        replace(surname, patch.surname);
                        if patch.title.is_some() {
                            *title = patch.title;
                        }
                    }
                    Account::Machine { label } => {
                        if patch.email.is_some() || old_pw.is_some() {
                            return Err(DomainError::invalid(
                                "email",
                                "a machine user has no email or password",
                            ));
                        }
                        replace(label, patch.label);
                        if patch.reset_creds {
                            tx.open(&API_KEYS)?
                                .remove_where(|key| key.belongs_to(&org, &user.username))?;
                            new_key = Some(add_api_key(tx, &org, &user.username, "reset")?);
                        }
                    }
                }
                user.updated = Utc::now();
                put_user(tx, &user)?;
                if credentials_changed {
                    let keep = granter
                        .is(&user.username)
                        .then_some(granter.session.as_deref())
                        .flatten();
                    end_sessions(tx, &org, &user.username, keep)?;
                }
                Ok::<_, DomainError>((user, new_key))
            })
            .await?;
        let mut issued = IssuedCredentials::default();
        if matches!(user.account, Account::Person { .. }) {
            issued.password = reset_password;
        }
        if let Some((full, id)) = key {
            issued.api_key = Some(full);
            issued.key_id = Some(id);
        }
        Ok(UserWithCredentials {
            user: user.into(),
            credentials: issued,
        })
    }

    /// Deletes a user (never the org's last `Administrators` holder).
    pub async fn delete(&self, caller: &Caller, username: &str) -> Result<(), DomainError> {
        check_name("user", username)?;
        let org = caller.org.clone();
        let username = username.to_string();
        in_org(&self.store, caller)
            .write(move |tx| {
                let user = found(
                    tx.open(&USERS)?.named(Some(&org), &username)?,
                    "user",
                    &username,
                )?;
                if user.roles.iter().any(|r| r == ADMINISTRATORS) {
                    keep_an_administrator(tx, &org, &user.username)?;
                }
                remove_user(tx, &org, &user.username)?;
                Ok(())
            })
            .await
    }
}

fn replace(field: &mut String, value: Option<String>) {
    if let Some(value) = value {
        *field = value;
    }
}
