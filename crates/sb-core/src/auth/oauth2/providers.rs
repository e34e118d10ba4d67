//! The OAuth2 providers Scalebase knows: their default endpoints, scopes and PKCE setting, and
//! how their user-info JSON maps to the common user fields (spec §6.8).
//!
//! A provider is data plus a mapping function; the exchange itself is the same for all
//! (`super`). Endpoints configured on the collection override the defaults, which is how the
//! generic `oidc`, `oidc2` and `oidc3` entries (no defaults) are pointed at an identity server.

use serde_json::Value as Json;

/// The common user fields read from a provider's user-info answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MappedUser {
    pub id: String,
    pub name: String,
    pub username: String,
    /// Empty unless the provider vouches for the address (where it says so).
    pub email: String,
    pub avatar_url: String,
}

/// A provider's built-in description.
pub(crate) struct ProviderKind {
    pub name: &'static str,
    pub display_name: &'static str,
    pub auth_url: &'static str,
    pub token_url: &'static str,
    pub user_info_url: &'static str,
    pub scopes: &'static [&'static str],
    pub pkce: bool,
    pub map_user: fn(&Json) -> MappedUser,
    /// Providers whose user answer may lack the e-mail list the addresses at a second
    /// endpoint (read with the same token) under the user-info URL; `pick` chooses the
    /// primary verified one.
    pub emails: Option<EmailList>,
}

/// A provider's e-mail list endpoint and how to pick the address from its answer.
#[derive(Clone, Copy)]
pub(crate) struct EmailList {
    /// Appended to the user-info URL (so a configured self-hosted server is followed).
    pub suffix: &'static str,
    pub pick: fn(&Json) -> String,
}

/// Looks up a provider by its configuration name.
pub(crate) fn find(name: &str) -> Option<&'static ProviderKind> {
    PROVIDERS.iter().find(|p| p.name == name)
}

const OIDC_SCOPES: &[&str] = &["openid", "email", "profile"];

static PROVIDERS: &[ProviderKind] = &[
    ProviderKind {
        name: "google",
        display_name: "Google",
        auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
        token_url: "https://oauth2.googleapis.com/token",
        user_info_url: "https://www.googleapis.com/oauth2/v3/userinfo",
        scopes: &[
            "https://www.googleapis.com/auth/userinfo.profile",
            "https://www.googleapis.com/auth/userinfo.email",
        ],
        pkce: true,
        map_user: map_oidc,
        emails: None,
    },
    ProviderKind {
        name: "github",
        display_name: "GitHub",
        auth_url: "https://github.com/login/oauth/authorize",
        token_url: "https://github.com/login/oauth/access_token",
        user_info_url: "https://api.github.com/user",
        scopes: &["read:user", "user:email"],
        pkce: true,
        map_user: map_github,
        emails: Some(EmailList { suffix: "/emails", pick: pick_github_email }),
    },
    ProviderKind {
        name: "gitlab",
        display_name: "GitLab",
        auth_url: "https://gitlab.com/oauth/authorize",
        token_url: "https://gitlab.com/oauth/token",
        user_info_url: "https://gitlab.com/api/v4/user",
        scopes: &["read_user"],
        pkce: true,
        map_user: map_gitlab,
        emails: None,
    },
    ProviderKind {
        name: "microsoft",
        display_name: "Microsoft",
        auth_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        user_info_url: "https://graph.microsoft.com/v1.0/me",
        scopes: &["User.Read"],
        pkce: true,
        map_user: map_microsoft,
        emails: None,
    },
    ProviderKind {
        name: "discord",
        display_name: "Discord",
        auth_url: "https://discord.com/api/oauth2/authorize",
        token_url: "https://discord.com/api/oauth2/token",
        user_info_url: "https://discord.com/api/users/@me",
        scopes: &["identify", "email"],
        pkce: true,
        map_user: map_discord,
        emails: None,
    },
    ProviderKind {
        name: "facebook",
        display_name: "Facebook",
        auth_url: "https://www.facebook.com/v3.2/dialog/oauth",
        token_url: "https://graph.facebook.com/v3.2/oauth/access_token",
        user_info_url: "https://graph.facebook.com/me?fields=name,email,picture.type(large)",
        scopes: &["email"],
        pkce: true,
        map_user: map_facebook,
        emails: None,
    },
    ProviderKind {
        name: "bitbucket",
        display_name: "Bitbucket",
        auth_url: "https://bitbucket.org/site/oauth2/authorize",
        token_url: "https://bitbucket.org/site/oauth2/access_token",
        user_info_url: "https://api.bitbucket.org/2.0/user",
        scopes: &["account"],
        pkce: false,
        map_user: map_bitbucket,
        emails: Some(EmailList { suffix: "/emails", pick: pick_bitbucket_email }),
    },
    oidc("oidc"),
    oidc("oidc2"),
    oidc("oidc3"),
];

/// A generic OpenID Connect provider: every endpoint comes from the configuration.
const fn oidc(name: &'static str) -> ProviderKind {
    ProviderKind {
        name,
        display_name: "OIDC",
        auth_url: "",
        token_url: "",
        user_info_url: "",
        scopes: OIDC_SCOPES,
        pkce: true,
        map_user: map_oidc,
        emails: None,
    }
}

/// A string member; numbers (GitHub and GitLab ids) are written in decimal.
fn text(user: &Json, key: &str) -> String {
    match user.get(key) {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn flag(user: &Json, key: &str) -> bool {
    match user.get(key) {
        Some(Json::Bool(b)) => *b,
        // Some identity servers send the claim as a string.
        Some(Json::String(s)) => s == "true",
        _ => false,
    }
}

/// OpenID Connect standard claims; the e-mail counts only when `email_verified` is true.
fn map_oidc(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "sub"),
        name: text(user, "name"),
        username: text(user, "preferred_username"),
        email: if flag(user, "email_verified") { text(user, "email") } else { String::new() },
        avatar_url: text(user, "picture"),
    }
}

fn map_github(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "id"),
        name: text(user, "name"),
        username: text(user, "login"),
        // GitHub shows only the public e-mail here, which it has verified.
        email: text(user, "email"),
        avatar_url: text(user, "avatar_url"),
    }
}

fn map_gitlab(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "id"),
        name: text(user, "name"),
        username: text(user, "username"),
        email: text(user, "email"),
        avatar_url: text(user, "avatar_url"),
    }
}

fn map_microsoft(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "id"),
        name: text(user, "displayName"),
        username: String::new(),
        email: text(user, "mail"),
        avatar_url: String::new(),
    }
}

fn map_discord(user: &Json) -> MappedUser {
    let id = text(user, "id");
    let avatar = text(user, "avatar");
    let avatar_url = if avatar.is_empty() || id.is_empty() {
        String::new()
    } else {
        format!("https://cdn.discordapp.com/avatars/{id}/{avatar}.png")
    };
    let global_name = text(user, "global_name");
    MappedUser {
        name: if global_name.is_empty() { text(user, "username") } else { global_name },
        username: text(user, "username"),
        email: if flag(user, "verified") { text(user, "email") } else { String::new() },
        avatar_url,
        id,
    }
}

fn map_facebook(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "id"),
        name: text(user, "name"),
        username: String::new(),
        email: text(user, "email"),
        avatar_url: user
            .pointer("/picture/data/url")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
    }
}

fn map_bitbucket(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "uuid"),
        name: text(user, "display_name"),
        username: text(user, "username"),
        // Bitbucket's user answer has no e-mail; it comes from the e-mails endpoint.
        email: String::new(),
        avatar_url: user
            .pointer("/links/avatar/href")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
    }
}

/// GitHub `/user/emails`: `[{"email","primary","verified"}]`.
fn pick_github_email(emails: &Json) -> String {
    pick_email(emails.as_array(), "primary", "verified")
}

/// Bitbucket `/user/emails`: `{"values":[{"email","is_primary","is_confirmed"}]}`.
fn pick_bitbucket_email(emails: &Json) -> String {
    pick_email(emails.get("values").and_then(Json::as_array), "is_primary", "is_confirmed")
}

fn pick_email(list: Option<&Vec<Json>>, primary: &str, verified: &str) -> String {
    list.into_iter()
        .flatten()
        .find(|e| flag(e, primary) && flag(e, verified))
        .map(|e| text(e, "email"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn oidc_email_needs_verification() {
        let map = find("oidc").unwrap().map_user;
        let user = json!({"sub": "u1", "email": "a@b.c", "email_verified": false});
        assert_eq!(map(&user).email, "");
        let user = json!({"sub": "u1", "email": "a@b.c", "email_verified": true, "name": "A"});
        let mapped = map(&user);
        assert_eq!(
            (mapped.id.as_str(), mapped.email.as_str(), mapped.name.as_str()),
            ("u1", "a@b.c", "A")
        );
    }

    #[test]
    fn email_lists_give_the_primary_verified_address() {
        let pick = find("github").unwrap().emails.unwrap().pick;
        let list = json!([
            {"email": "old@x.y", "primary": false, "verified": true},
            {"email": "main@x.y", "primary": true, "verified": true},
        ]);
        assert_eq!(pick(&list), "main@x.y");
        assert_eq!(pick(&json!([{"email": "u@x.y", "primary": true, "verified": false}])), "");
        let pick = find("bitbucket").unwrap().emails.unwrap().pick;
        let list =
            json!({"values": [{"email": "b@x.y", "is_primary": true, "is_confirmed": true}]});
        assert_eq!(pick(&list), "b@x.y");
        assert!(!find("bitbucket").unwrap().pkce);
    }

    #[test]
    fn numeric_ids_and_provider_fields() {
        let github = (find("github").unwrap().map_user)(
            &json!({"id": 42, "login": "octo", "name": "Octo Cat", "email": "o@c.t", "avatar_url": "https://x/a.png"}),
        );
        assert_eq!(
            github,
            MappedUser {
                id: "42".into(),
                name: "Octo Cat".into(),
                username: "octo".into(),
                email: "o@c.t".into(),
                avatar_url: "https://x/a.png".into(),
            }
        );
        let discord = (find("discord").unwrap().map_user)(
            &json!({"id": "7", "username": "d", "avatar": "h", "email": "d@x.y", "verified": false}),
        );
        assert_eq!(discord.avatar_url, "https://cdn.discordapp.com/avatars/7/h.png");
        assert_eq!(discord.email, "");
        assert_eq!(discord.name, "d");
        assert!(find("apple").is_none());
    }
}
