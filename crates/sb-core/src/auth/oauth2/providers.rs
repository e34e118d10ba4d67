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

/// A provider's built-in description. Table entries spell out what differs from [`BASE`].
pub(crate) struct ProviderKind {
    pub name: &'static str,
    pub display_name: &'static str,
    pub auth_url: &'static str,
    pub token_url: &'static str,
    /// The user-info endpoint; for [`UserInfo::IdToken`] the JSON Web Key Set.
    pub user_info_url: &'static str,
    pub scopes: &'static [&'static str],
    pub pkce: bool,
    pub map_user: fn(&Json) -> MappedUser,
    /// Providers whose user answer may lack the e-mail list the addresses at a second
    /// endpoint (read with the same token); `pick` chooses the primary verified one.
    pub emails: Option<EmailList>,
    /// How the user is read once the code is exchanged.
    pub user_info: UserInfo,
    /// Extra headers of the user-info request.
    pub headers: &'static [(&'static str, HeaderValue)],
    /// Extra parameters of the authorization URL.
    pub auth_params: &'static [(&'static str, &'static str)],
    /// How the client authenticates at the token endpoint.
    pub token_auth: TokenAuth,
    /// The token answer carries the user's (verified) e-mail under `email` (VK).
    pub email_in_token: bool,
}

/// How a provider tells who logged in.
#[derive(Clone, Copy)]
pub(crate) enum UserInfo {
    /// GET the user-info URL with the bearer token.
    Get,
    /// POST this JSON body (a GraphQL query) to the user-info URL with the bearer token.
    Post(&'static str),
    /// No user-info endpoint: the token answer's `id_token`, verified with the key set at the
    /// user-info URL and issued by `issuer` for the client id, holds the claims.
    IdToken { issuer: &'static str },
}

/// The value of an extra user-info header.
#[derive(Clone, Copy)]
pub(crate) enum HeaderValue {
    Fixed(&'static str),
    /// The configured client id.
    ClientId,
}

/// Client authentication at the token endpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenAuth {
    /// `client_id` and `client_secret` in the form.
    Form,
    /// HTTP basic authentication (`client_secret_basic`), required by X and Notion.
    Basic,
}

/// A provider's e-mail list endpoint and how to pick the address from its answer.
#[derive(Clone, Copy)]
pub(crate) struct EmailList {
    pub at: EmailsAt,
    pub pick: fn(&Json) -> String,
}

/// Where the e-mail list is, from the user-info URL (so a configured self-hosted server is
/// followed).
#[derive(Clone, Copy)]
pub(crate) enum EmailsAt {
    /// Appended to the user-info URL.
    Suffix(&'static str),
    /// Resolved against the user-info URL as a relative reference.
    Relative(&'static str),
}

impl EmailsAt {
    pub fn resolve(self, user_info_url: &str) -> Option<String> {
        match self {
            EmailsAt::Suffix(suffix) => Some(format!("{user_info_url}{suffix}")),
            EmailsAt::Relative(path) => {
                url::Url::parse(user_info_url).and_then(|u| u.join(path)).ok().map(String::from)
            }
        }
    }
}

/// Looks up a provider by its configuration name.
pub(crate) fn find(name: &str) -> Option<&'static ProviderKind> {
    PROVIDERS.iter().find(|p| p.name == name)
}

const OIDC_SCOPES: &[&str] = &["openid", "email", "profile"];

/// The common case: a plain GET of the user info with the bearer token, PKCE on.
const BASE: ProviderKind = ProviderKind {
    name: "",
    display_name: "",
    auth_url: "",
    token_url: "",
    user_info_url: "",
    scopes: &[],
    pkce: true,
    map_user: map_oidc,
    emails: None,
    user_info: UserInfo::Get,
    headers: &[],
    auth_params: &[],
    token_auth: TokenAuth::Form,
    email_in_token: false,
};

static PROVIDERS: &[ProviderKind] = &[
    ProviderKind {
        name: "apple",
        display_name: "Apple",
        auth_url: "https://appleid.apple.com/auth/authorize",
        token_url: "https://appleid.apple.com/auth/token",
        user_info_url: "https://appleid.apple.com/auth/keys",
        scopes: &["name", "email"],
        map_user: map_apple,
        user_info: UserInfo::IdToken { issuer: "https://appleid.apple.com" },
        // Apple requires a POSTed redirect when the name or e-mail scope is asked for.
        auth_params: &[("response_mode", "form_post")],
        ..BASE
    },
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
        ..BASE
    },
    ProviderKind {
        name: "microsoft",
        display_name: "Microsoft",
        auth_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        user_info_url: "https://graph.microsoft.com/v1.0/me",
        scopes: &["User.Read"],
        map_user: map_microsoft,
        ..BASE
    },
    ProviderKind {
        name: "yandex",
        display_name: "Yandex",
        auth_url: "https://oauth.yandex.com/authorize",
        token_url: "https://oauth.yandex.com/token",
        user_info_url: "https://login.yandex.ru/info",
        scopes: &["login:email", "login:avatar", "login:info"],
        map_user: map_yandex,
        ..BASE
    },
    ProviderKind {
        name: "facebook",
        display_name: "Facebook",
        auth_url: "https://www.facebook.com/v3.2/dialog/oauth",
        token_url: "https://graph.facebook.com/v3.2/oauth/access_token",
        user_info_url: "https://graph.facebook.com/me?fields=name,email,picture.type(large)",
        scopes: &["email"],
        map_user: map_facebook,
        ..BASE
    },
    ProviderKind {
        name: "instagram2",
        display_name: "Instagram",
        auth_url: "https://www.instagram.com/oauth/authorize",
        token_url: "https://api.instagram.com/oauth/access_token",
        user_info_url: "https://graph.instagram.com/me?fields=id,username,account_type,user_id,name,profile_picture_url,followers_count,follows_count,media_count",
        scopes: &["instagram_business_basic"],
        map_user: map_instagram,
        ..BASE
    },
    ProviderKind {
        name: "github",
        display_name: "GitHub",
        auth_url: "https://github.com/login/oauth/authorize",
        token_url: "https://github.com/login/oauth/access_token",
        user_info_url: "https://api.github.com/user",
        scopes: &["read:user", "user:email"],
        map_user: map_github,
        emails: Some(EmailList { at: EmailsAt::Suffix("/emails"), pick: pick_github_email }),
        ..BASE
    },
    ProviderKind {
        name: "gitlab",
        display_name: "GitLab",
        auth_url: "https://gitlab.com/oauth/authorize",
        token_url: "https://gitlab.com/oauth/token",
        user_info_url: "https://gitlab.com/api/v4/user",
        scopes: &["read_user"],
        map_user: map_gitlab,
        ..BASE
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
        emails: Some(EmailList { at: EmailsAt::Suffix("/emails"), pick: pick_bitbucket_email }),
        ..BASE
    },
    ProviderKind {
        name: "gitee",
        display_name: "Gitee",
        auth_url: "https://gitee.com/oauth/authorize",
        token_url: "https://gitee.com/oauth/token",
        user_info_url: "https://gitee.com/api/v5/user",
        scopes: &["user_info", "emails"],
        map_user: map_gitee,
        emails: Some(EmailList { at: EmailsAt::Relative("emails"), pick: pick_gitee_email }),
        ..BASE
    },
    ProviderKind {
        name: "gitea",
        display_name: "Gitea/Forgejo",
        auth_url: "https://gitea.com/login/oauth/authorize",
        token_url: "https://gitea.com/login/oauth/access_token",
        user_info_url: "https://gitea.com/api/v1/user",
        scopes: &["read:user", "user:email"],
        map_user: map_gitea,
        ..BASE
    },
    ProviderKind {
        name: "discord",
        display_name: "Discord",
        auth_url: "https://discord.com/api/oauth2/authorize",
        token_url: "https://discord.com/api/oauth2/token",
        user_info_url: "https://discord.com/api/users/@me",
        scopes: &["identify", "email"],
        map_user: map_discord,
        ..BASE
    },
    ProviderKind {
        name: "twitter",
        display_name: "X/Twitter",
        auth_url: "https://x.com/i/oauth2/authorize",
        token_url: "https://api.x.com/2/oauth2/token",
        user_info_url: "https://api.x.com/2/users/me?user.fields=id,name,username,profile_image_url,confirmed_email",
        scopes: &["users.read", "users.email", "tweet.read"],
        map_user: map_twitter,
        token_auth: TokenAuth::Basic,
        ..BASE
    },
    ProviderKind {
        name: "kakao",
        display_name: "Kakao",
        auth_url: "https://kauth.kakao.com/oauth/authorize",
        token_url: "https://kauth.kakao.com/oauth/token",
        user_info_url: "https://kapi.kakao.com/v2/user/me",
        scopes: &["account_email", "profile_nickname", "profile_image"],
        map_user: map_kakao,
        ..BASE
    },
    ProviderKind {
        name: "vk",
        display_name: "ВКонтакте",
        auth_url: "https://oauth.vk.com/authorize",
        token_url: "https://oauth.vk.com/access_token",
        user_info_url: "https://api.vk.com/method/users.get?fields=photo_max,screen_name&v=5.131",
        scopes: &["email"],
        pkce: false,
        map_user: map_vk,
        email_in_token: true,
        ..BASE
    },
    ProviderKind {
        name: "linear",
        display_name: "Linear",
        auth_url: "https://linear.app/oauth/authorize",
        token_url: "https://api.linear.app/oauth/token",
        user_info_url: "https://api.linear.app/graphql",
        scopes: &["read"],
        pkce: false,
        map_user: map_linear,
        user_info: UserInfo::Post(
            r#"{"query":"query Me { viewer { id displayName name email avatarUrl active } }"}"#,
        ),
        ..BASE
    },
    ProviderKind {
        name: "notion",
        display_name: "Notion",
        auth_url: "https://api.notion.com/v1/oauth/authorize",
        token_url: "https://api.notion.com/v1/oauth/token",
        user_info_url: "https://api.notion.com/v1/users/me",
        map_user: map_notion,
        headers: &[("Notion-Version", HeaderValue::Fixed("2022-06-28"))],
        token_auth: TokenAuth::Basic,
        ..BASE
    },
    ProviderKind {
        name: "monday",
        display_name: "monday.com",
        auth_url: "https://auth.monday.com/oauth2/authorize",
        token_url: "https://auth.monday.com/oauth2/token",
        user_info_url: "https://api.monday.com/v2",
        scopes: &["me:read"],
        map_user: map_monday,
        user_info: UserInfo::Post(
            r#"{"query":"query { me { id enabled name email is_verified photo_small } }"}"#,
        ),
        ..BASE
    },
    ProviderKind {
        name: "lark",
        display_name: "Lark",
        auth_url: "https://accounts.feishu.cn/open-apis/authen/v1/authorize",
        token_url: "https://open.feishu.cn/open-apis/authen/v2/oauth/token",
        user_info_url: "https://open.feishu.cn/open-apis/authen/v1/user_info",
        map_user: map_lark,
        ..BASE
    },
    ProviderKind {
        name: "box",
        display_name: "Box",
        auth_url: "https://account.box.com/api/oauth2/authorize",
        token_url: "https://api.box.com/oauth2/token",
        user_info_url: "https://api.box.com/2.0/users/me",
        scopes: &["root_readonly"],
        map_user: map_box,
        ..BASE
    },
    ProviderKind {
        name: "spotify",
        display_name: "Spotify",
        auth_url: "https://accounts.spotify.com/authorize",
        token_url: "https://accounts.spotify.com/api/token",
        user_info_url: "https://api.spotify.com/v1/me",
        scopes: &["user-read-private"],
        map_user: map_spotify,
        ..BASE
    },
    ProviderKind {
        name: "trakt",
        display_name: "Trakt",
        auth_url: "https://trakt.tv/oauth/authorize",
        token_url: "https://api.trakt.tv/oauth/token",
        user_info_url: "https://api.trakt.tv/users/settings",
        map_user: map_trakt,
        headers: &[
            ("trakt-api-version", HeaderValue::Fixed("2")),
            ("trakt-api-key", HeaderValue::ClientId),
        ],
        ..BASE
    },
    ProviderKind {
        name: "twitch",
        display_name: "Twitch",
        auth_url: "https://id.twitch.tv/oauth2/authorize",
        token_url: "https://id.twitch.tv/oauth2/token",
        user_info_url: "https://api.twitch.tv/helix/users",
        scopes: &["user:read:email"],
        map_user: map_twitch,
        headers: &[("Client-Id", HeaderValue::ClientId)],
        ..BASE
    },
    ProviderKind {
        name: "patreon",
        display_name: "Patreon",
        auth_url: "https://www.patreon.com/oauth2/authorize",
        token_url: "https://www.patreon.com/api/oauth2/token",
        user_info_url: "https://www.patreon.com/api/oauth2/v2/identity?fields%5Buser%5D=full_name,email,vanity,image_url,is_email_verified",
        scopes: &["identity", "identity[email]"],
        map_user: map_patreon,
        ..BASE
    },
    ProviderKind {
        name: "strava",
        display_name: "Strava",
        auth_url: "https://www.strava.com/oauth/authorize",
        token_url: "https://www.strava.com/api/v3/oauth/token",
        user_info_url: "https://www.strava.com/api/v3/athlete",
        scopes: &["profile:read_all"],
        map_user: map_strava,
        ..BASE
    },
    ProviderKind {
        name: "wakatime",
        display_name: "WakaTime",
        auth_url: "https://wakatime.com/oauth/authorize",
        token_url: "https://wakatime.com/oauth/token",
        user_info_url: "https://wakatime.com/api/v1/users/current",
        scopes: &["email"],
        map_user: map_wakatime,
        ..BASE
    },
    ProviderKind {
        name: "livechat",
        display_name: "LiveChat",
        auth_url: "https://accounts.livechat.com/",
        token_url: "https://accounts.livechat.com/token",
        user_info_url: "https://accounts.livechat.com/v2/accounts/me",
        map_user: map_livechat,
        ..BASE
    },
    // Self-hosted: every endpoint comes from the configuration.
    ProviderKind {
        name: "mailcow",
        display_name: "mailcow",
        scopes: &["profile"],
        map_user: map_mailcow,
        ..BASE
    },
    ProviderKind {
        name: "planningcenter",
        display_name: "Planning Center",
        auth_url: "https://api.planningcenteronline.com/oauth/authorize",
        token_url: "https://api.planningcenteronline.com/oauth/token",
        user_info_url: "https://api.planningcenteronline.com/people/v2/me",
        scopes: &["people"],
        map_user: map_planningcenter,
        ..BASE
    },
    oidc("oidc"),
    oidc("oidc2"),
    oidc("oidc3"),
];

/// A generic OpenID Connect provider: every endpoint comes from the configuration.
const fn oidc(name: &'static str) -> ProviderKind {
    ProviderKind { name, display_name: "OIDC", scopes: OIDC_SCOPES, ..BASE }
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

/// A member at a JSON pointer, as [`text`] reads it.
fn text_at(user: &Json, pointer: &str) -> String {
    match user.pointer(pointer) {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A flag at a JSON pointer, as [`flag`] reads it (also `1`, as mailcow sends it).
fn flag_at(user: &Json, pointer: &str) -> bool {
    match user.pointer(pointer) {
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) => s == "true",
        Some(Json::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

/// `first last`, trimmed.
fn full_name(first: String, last: String) -> String {
    format!("{first} {last}").trim().to_owned()
}

/// An account the provider reports as disabled maps to no id, which refuses the login.
fn unless_inactive(active: bool, user: MappedUser) -> MappedUser {
    if active { user } else { MappedUser::default() }
}

/// The verified claims of Apple's `id_token`. Apple sends the name only on the first
/// authorization, outside the token (the `user` JSON), merged in as `user` when present.
fn map_apple(claims: &Json) -> MappedUser {
    let mut name = text(claims, "name");
    if name.is_empty() {
        name = full_name(
            text_at(claims, "/user/name/firstName"),
            text_at(claims, "/user/name/lastName"),
        );
    }
    MappedUser {
        id: text(claims, "sub"),
        name,
        username: String::new(),
        email: if flag(claims, "email_verified") { text(claims, "email") } else { String::new() },
        avatar_url: String::new(),
    }
}

/// Yandex `login.yandex.ru/info`; its accounts' default e-mail is confirmed.
fn map_yandex(user: &Json) -> MappedUser {
    let avatar = text(user, "default_avatar_id");
    MappedUser {
        id: text(user, "id"),
        name: text(user, "real_name"),
        username: text(user, "login"),
        email: text(user, "default_email"),
        avatar_url: if avatar.is_empty() || flag(user, "is_avatar_empty") {
            String::new()
        } else {
            format!("https://avatars.yandex.net/get-yapic/{avatar}/islands-200")
        },
    }
}

/// Instagram (business login) `graph.instagram.com/me`: no e-mail.
fn map_instagram(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "user_id"),
        name: text(user, "name"),
        username: text(user, "username"),
        email: String::new(),
        avatar_url: text(user, "profile_picture_url"),
    }
}

/// Gitee `/api/v5/user`: the public e-mail, else the e-mail list's primary confirmed one.
fn map_gitee(user: &Json) -> MappedUser {
    let email = text(user, "email");
    MappedUser {
        id: text(user, "id"),
        name: text(user, "name"),
        username: text(user, "login"),
        email: if email.contains('@') { email } else { String::new() },
        avatar_url: text(user, "avatar_url"),
    }
}

/// Gitea/Forgejo `/api/v1/user`.
fn map_gitea(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "id"),
        name: text(user, "full_name"),
        username: text(user, "login"),
        email: text(user, "email"),
        avatar_url: text(user, "avatar_url"),
    }
}

/// X `2/users/me`: the user is under `data`; `confirmed_email` is the confirmed address.
fn map_twitter(user: &Json) -> MappedUser {
    MappedUser {
        id: text_at(user, "/data/id"),
        name: text_at(user, "/data/name"),
        username: text_at(user, "/data/username"),
        email: text_at(user, "/data/confirmed_email"),
        avatar_url: text_at(user, "/data/profile_image_url"),
    }
}

/// Kakao `v2/user/me`: the e-mail counts when valid and verified.
fn map_kakao(user: &Json) -> MappedUser {
    let account = |key: &str| flag_at(user, &format!("/kakao_account/{key}"));
    MappedUser {
        id: text(user, "id"),
        name: String::new(),
        username: text_at(user, "/properties/nickname"),
        email: if account("is_email_valid") && account("is_email_verified") {
            text_at(user, "/kakao_account/email")
        } else {
            String::new()
        },
        avatar_url: text_at(user, "/properties/profile_image"),
    }
}

/// VK `users.get`: `{"response":[user]}`; the e-mail comes with the token.
fn map_vk(user: &Json) -> MappedUser {
    MappedUser {
        id: text_at(user, "/response/0/id"),
        name: full_name(
            text_at(user, "/response/0/first_name"),
            text_at(user, "/response/0/last_name"),
        ),
        username: text_at(user, "/response/0/screen_name"),
        email: String::new(),
        avatar_url: text_at(user, "/response/0/photo_max"),
    }
}

/// Linear GraphQL `viewer`; an inactive account is refused.
fn map_linear(user: &Json) -> MappedUser {
    let viewer = |key: &str| text_at(user, &format!("/data/viewer/{key}"));
    unless_inactive(
        flag_at(user, "/data/viewer/active"),
        MappedUser {
            id: viewer("id"),
            name: viewer("name"),
            username: viewer("displayName"),
            email: viewer("email"),
            avatar_url: viewer("avatarUrl"),
        },
    )
}

/// Notion `v1/users/me` answers with the integration's bot; the person is its owner.
fn map_notion(user: &Json) -> MappedUser {
    let owner = |key: &str| text_at(user, &format!("/bot/owner/user/{key}"));
    MappedUser {
        id: owner("id"),
        name: owner("name"),
        username: String::new(),
        email: owner("person/email"),
        avatar_url: owner("avatar_url"),
    }
}

/// monday.com GraphQL `me`; a disabled account is refused, the e-mail counts when verified.
fn map_monday(user: &Json) -> MappedUser {
    let me = |key: &str| text_at(user, &format!("/data/me/{key}"));
    unless_inactive(
        flag_at(user, "/data/me/enabled"),
        MappedUser {
            id: me("id"),
            name: me("name"),
            username: String::new(),
            email: if flag_at(user, "/data/me/is_verified") { me("email") } else { String::new() },
            avatar_url: me("photo_small"),
        },
    )
}

/// Lark/Feishu `authen/v1/user_info` (`{"code":0,"data":{...}}`): the tenant-independent
/// `union_id` is the id; no e-mail (it is not said to be verified).
fn map_lark(user: &Json) -> MappedUser {
    MappedUser {
        id: text_at(user, "/data/union_id"),
        name: text_at(user, "/data/name"),
        username: String::new(),
        email: String::new(),
        avatar_url: text_at(user, "/data/avatar_url"),
    }
}

/// Box `2.0/users/me`: `login` is the account's e-mail.
fn map_box(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "id"),
        name: text(user, "name"),
        username: String::new(),
        email: text(user, "login"),
        avatar_url: text(user, "avatar_url"),
    }
}

/// Spotify `v1/me`: its e-mail is unverified, so it is not used.
fn map_spotify(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "id"),
        name: text(user, "display_name"),
        username: String::new(),
        email: String::new(),
        avatar_url: text_at(user, "/images/0/url"),
    }
}

/// Trakt `users/settings`: the user is under `user`; no e-mail.
fn map_trakt(user: &Json) -> MappedUser {
    MappedUser {
        id: text_at(user, "/user/ids/uuid"),
        name: text_at(user, "/user/name"),
        username: text_at(user, "/user/username"),
        email: String::new(),
        avatar_url: text_at(user, "/user/images/avatar/full"),
    }
}

/// Twitch `helix/users`: `{"data":[user]}`; Twitch only shows a verified e-mail.
fn map_twitch(user: &Json) -> MappedUser {
    MappedUser {
        id: text_at(user, "/data/0/id"),
        name: text_at(user, "/data/0/display_name"),
        username: text_at(user, "/data/0/login"),
        email: text_at(user, "/data/0/email"),
        avatar_url: text_at(user, "/data/0/profile_image_url"),
    }
}

/// Patreon `v2/identity` (JSON:API): the e-mail counts when verified.
fn map_patreon(user: &Json) -> MappedUser {
    let attr = |key: &str| text_at(user, &format!("/data/attributes/{key}"));
    MappedUser {
        id: text_at(user, "/data/id"),
        name: attr("full_name"),
        username: attr("vanity"),
        email: if flag_at(user, "/data/attributes/is_email_verified") {
            attr("email")
        } else {
            String::new()
        },
        avatar_url: attr("image_url"),
    }
}

/// Strava `v3/athlete`: no e-mail.
fn map_strava(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "id"),
        name: full_name(text(user, "firstname"), text(user, "lastname")),
        username: text(user, "username"),
        email: String::new(),
        avatar_url: text(user, "profile"),
    }
}

/// WakaTime `users/current` (`{"data":{...}}`): the e-mail counts when confirmed.
fn map_wakatime(user: &Json) -> MappedUser {
    let data = |key: &str| text_at(user, &format!("/data/{key}"));
    MappedUser {
        id: data("id"),
        name: data("display_name"),
        username: data("username"),
        email: if flag_at(user, "/data/is_email_confirmed") {
            data("email")
        } else {
            String::new()
        },
        avatar_url: data("photo"),
    }
}

/// LiveChat `v2/accounts/me`: the e-mail counts when verified.
fn map_livechat(user: &Json) -> MappedUser {
    MappedUser {
        id: text(user, "account_id"),
        name: text(user, "name"),
        username: String::new(),
        email: if flag(user, "email_verified") { text(user, "email") } else { String::new() },
        avatar_url: text(user, "avatar_url"),
    }
}

/// mailcow `oauth/profile`: the mailbox itself is the e-mail; an inactive one is refused. The
/// username is the mailbox's local part.
fn map_mailcow(user: &Json) -> MappedUser {
    let username = text(user, "username");
    let username = username.split('@').next().unwrap_or_default().to_owned();
    unless_inactive(
        flag_at(user, "/active"),
        MappedUser {
            id: text(user, "id"),
            name: text(user, "full_name"),
            username,
            email: text(user, "email"),
            avatar_url: String::new(),
        },
    )
}

/// Planning Center `people/v2/me` (JSON:API): only active people; no e-mail (a person may
/// have several, none said to be verified).
fn map_planningcenter(user: &Json) -> MappedUser {
    unless_inactive(
        text_at(user, "/data/attributes/status") == "active",
        MappedUser {
            id: text_at(user, "/data/id"),
            name: text_at(user, "/data/attributes/name"),
            username: String::new(),
            email: String::new(),
            avatar_url: text_at(user, "/data/attributes/avatar"),
        },
    )
}

/// Gitee `/api/v5/emails`: `[{"email","state":"confirmed","scope":["primary",...]}]`.
fn pick_gitee_email(emails: &Json) -> String {
    emails
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| {
            text(e, "state") == "confirmed"
                && e.get("scope")
                    .and_then(Json::as_array)
                    .is_some_and(|s| s.iter().any(|v| v.as_str() == Some("primary")))
        })
        .map(|e| text(e, "email"))
        .unwrap_or_default()
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
mod tests;
