//! The providers' table and user-info mappers, on sample answers shaped like each provider's
//! documented ones.

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
    let list = json!({"values": [{"email": "b@x.y", "is_primary": true, "is_confirmed": true}]});
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
    assert!(find("apple").is_some());
}

#[test]
fn the_table_is_pocketbases_list() {
    let names: Vec<(&str, &str)> = PROVIDERS.iter().map(|p| (p.name, p.display_name)).collect();
    assert_eq!(names, crate::collections::OAUTH2_PROVIDERS);
    // Only self-hosted or generic providers lack default endpoints.
    for p in PROVIDERS {
        let defaults = [p.auth_url, p.token_url, p.user_info_url];
        let configured_only = p.name == "mailcow" || p.name.starts_with("oidc");
        assert_eq!(defaults.iter().all(|u| u.is_empty()), configured_only, "{}", p.name);
        assert!(
            configured_only || defaults.iter().all(|u| u.starts_with("https://")),
            "{}",
            p.name
        );
    }
}

/// `(id, name, username, email, avatar URL)`.
fn fields(m: MappedUser) -> [String; 5] {
    [m.id, m.name, m.username, m.email, m.avatar_url]
}

fn map(provider: &str, user: serde_json::Value) -> [String; 5] {
    fields((find(provider).unwrap().map_user)(&user))
}

/// Sample answers shaped like each provider's documented user answer, and what they map to.
#[test]
fn every_provider_maps_its_documented_answer() {
    let cases: Vec<(&str, serde_json::Value, [&str; 5])> = vec![
        (
            "apple",
            json!({"iss": "https://appleid.apple.com", "aud": "app", "sub": "001.abc", "email": "x@privaterelay.appleid.com", "email_verified": "true", "is_private_email": "true",
                   "user": {"name": {"firstName": "Ann", "lastName": "Lee"}, "email": "x@privaterelay.appleid.com"}}),
            ["001.abc", "Ann Lee", "", "x@privaterelay.appleid.com", ""],
        ),
        (
            "google",
            json!({"sub": "1098", "name": "Ann Lee", "given_name": "Ann", "picture": "https://lh3.googleusercontent.com/a/x", "email": "ann@gmail.com", "email_verified": true}),
            ["1098", "Ann Lee", "", "ann@gmail.com", "https://lh3.googleusercontent.com/a/x"],
        ),
        (
            "microsoft",
            json!({"id": "87d349ed", "displayName": "Megan Bowen", "mail": "MeganB@contoso.com", "userPrincipalName": "MeganB@contoso.com"}),
            ["87d349ed", "Megan Bowen", "", "MeganB@contoso.com", ""],
        ),
        (
            "yandex",
            json!({"id": "1000034426", "login": "ivan", "client_id": "4760187d", "display_name": "Ivan", "real_name": "Ivan Ivanov", "default_email": "ivan@yandex.ru", "default_avatar_id": "131652443", "is_avatar_empty": false}),
            [
                "1000034426",
                "Ivan Ivanov",
                "ivan",
                "ivan@yandex.ru",
                "https://avatars.yandex.net/get-yapic/131652443/islands-200",
            ],
        ),
        (
            "facebook",
            json!({"id": "10224", "name": "Ann Lee", "email": "ann@fb.test", "picture": {"data": {"height": 200, "is_silhouette": false, "url": "https://platform-lookaside.fbsbx.com/p", "width": 200}}}),
            ["10224", "Ann Lee", "", "ann@fb.test", "https://platform-lookaside.fbsbx.com/p"],
        ),
        (
            "instagram2",
            json!({"id": "7531", "user_id": "17841405", "username": "ann.shots", "name": "Ann", "account_type": "BUSINESS", "profile_picture_url": "https://scontent.cdninstagram.com/p.jpg", "followers_count": 10}),
            ["17841405", "Ann", "ann.shots", "", "https://scontent.cdninstagram.com/p.jpg"],
        ),
        (
            "gitlab",
            json!({"id": 1, "username": "john_smith", "name": "John Smith", "state": "active", "avatar_url": "https://gitlab.com/uploads/a.png", "email": "john@example.com"}),
            [
                "1",
                "John Smith",
                "john_smith",
                "john@example.com",
                "https://gitlab.com/uploads/a.png",
            ],
        ),
        (
            "bitbucket",
            json!({"uuid": "{d301aafa-d676}", "username": "tutorials", "display_name": "Tutorials Account", "links": {"avatar": {"href": "https://bitbucket.org/account/tutorials/avatar/"}}}),
            [
                "{d301aafa-d676}",
                "Tutorials Account",
                "tutorials",
                "",
                "https://bitbucket.org/account/tutorials/avatar/",
            ],
        ),
        (
            "gitee",
            json!({"id": 12285415, "login": "ann", "name": "Ann", "avatar_url": "https://gitee.com/assets/a.png", "email": "ann@gitee.test"}),
            ["12285415", "Ann", "ann", "ann@gitee.test", "https://gitee.com/assets/a.png"],
        ),
        (
            "gitea",
            json!({"id": 7, "login": "ann", "full_name": "Ann Lee", "email": "ann@gitea.test", "avatar_url": "https://gitea.com/avatars/7"}),
            ["7", "Ann Lee", "ann", "ann@gitea.test", "https://gitea.com/avatars/7"],
        ),
        (
            "twitter",
            json!({"data": {"id": "2244994945", "name": "X Dev", "username": "XDevelopers", "profile_image_url": "https://pbs.twimg.com/p.jpg", "confirmed_email": "dev@x.test"}}),
            ["2244994945", "X Dev", "XDevelopers", "dev@x.test", "https://pbs.twimg.com/p.jpg"],
        ),
        (
            "kakao",
            json!({"id": 123456789, "connected_at": "2022-04-11T01:45:28Z", "properties": {"nickname": "홍길동", "profile_image": "http://k.kakaocdn.net/p.jpg"},
                   "kakao_account": {"email": "sample@sample.com", "is_email_valid": true, "is_email_verified": true, "profile": {"nickname": "홍길동"}}}),
            ["123456789", "", "홍길동", "sample@sample.com", "http://k.kakaocdn.net/p.jpg"],
        ),
        (
            "vk",
            json!({"response": [{"id": 210700286, "first_name": "Lindsey", "last_name": "Stirling", "screen_name": "lindseystirling", "photo_max": "https://sun9-1.userapi.com/p.jpg"}]}),
            [
                "210700286",
                "Lindsey Stirling",
                "lindseystirling",
                "",
                "https://sun9-1.userapi.com/p.jpg",
            ],
        ),
        (
            "linear",
            json!({"data": {"viewer": {"id": "2b0ab4fa", "displayName": "ann", "name": "Ann Lee", "email": "ann@linear.test", "avatarUrl": "https://public.linear.app/a.png", "active": true}}}),
            ["2b0ab4fa", "Ann Lee", "ann", "ann@linear.test", "https://public.linear.app/a.png"],
        ),
        (
            "notion",
            json!({"object": "user", "id": "bot-1", "type": "bot", "name": "Integration",
                   "bot": {"owner": {"type": "user", "user": {"object": "user", "id": "e79a0b74", "name": "Avocado Lovelace", "avatar_url": "https://s3.notion.test/a.png", "type": "person", "person": {"email": "avo@example.org"}}}, "workspace_name": "Ws"}}),
            ["e79a0b74", "Avocado Lovelace", "", "avo@example.org", "https://s3.notion.test/a.png"],
        ),
        (
            "monday",
            json!({"data": {"me": {"id": "4012689", "enabled": true, "name": "Ann", "email": "ann@monday.test", "is_verified": true, "photo_small": "https://files.monday.com/s.png"}}}),
            ["4012689", "Ann", "", "ann@monday.test", "https://files.monday.com/s.png"],
        ),
        (
            "lark",
            json!({"code": 0, "msg": "success", "data": {"name": "Zhang San", "en_name": "San", "avatar_url": "https://s1-imfile.feishucdn.com/a.png", "open_id": "ou_1", "union_id": "on_2", "email": "z@lark.test", "user_id": "5d9bdxxx"}}),
            ["on_2", "Zhang San", "", "", "https://s1-imfile.feishucdn.com/a.png"],
        ),
        (
            "box",
            json!({"type": "user", "id": "11446498", "name": "Aaron Levie", "login": "ceo@example.com", "avatar_url": "https://www.box.com/api/avatar/large/181216415"}),
            [
                "11446498",
                "Aaron Levie",
                "",
                "ceo@example.com",
                "https://www.box.com/api/avatar/large/181216415",
            ],
        ),
        (
            "spotify",
            json!({"id": "wizzler", "display_name": "JM Wizzler", "email": "email@example.com", "images": [{"url": "https://i.scdn.co/image/ab67", "height": 300, "width": 300}]}),
            ["wizzler", "JM Wizzler", "", "", "https://i.scdn.co/image/ab67"],
        ),
        (
            "trakt",
            json!({"user": {"username": "sean", "private": false, "name": "Sean Rudford", "vip": true, "ids": {"slug": "sean", "uuid": "5aa4fc0e"}, "images": {"avatar": {"full": "https://walter.trakt.tv/a.jpg"}}}, "account": {"timezone": "America/Los_Angeles"}}),
            ["5aa4fc0e", "Sean Rudford", "sean", "", "https://walter.trakt.tv/a.jpg"],
        ),
        (
            "twitch",
            json!({"data": [{"id": "141981764", "login": "twitchdev", "display_name": "TwitchDev", "type": "", "profile_image_url": "https://static-cdn.jtvnw.net/p.png", "email": "dev@twitch.test"}]}),
            [
                "141981764",
                "TwitchDev",
                "twitchdev",
                "dev@twitch.test",
                "https://static-cdn.jtvnw.net/p.png",
            ],
        ),
        (
            "patreon",
            json!({"data": {"id": "1234", "type": "user", "attributes": {"full_name": "Ann Lee", "vanity": "annlee", "email": "ann@patreon.test", "image_url": "https://c8.patreon.com/a.png", "is_email_verified": true}}, "links": {"self": "https://www.patreon.com/api/oauth2/v2/user/1234"}}),
            ["1234", "Ann Lee", "annlee", "ann@patreon.test", "https://c8.patreon.com/a.png"],
        ),
        (
            "strava",
            json!({"id": 1234567890987654321_u64, "username": "marianne_t", "firstname": "Marianne", "lastname": "Teutenberg", "profile": "https://xxxxx.cloudfront.net/large.jpg", "profile_medium": "https://m.jpg"}),
            [
                "1234567890987654321",
                "Marianne Teutenberg",
                "marianne_t",
                "",
                "https://xxxxx.cloudfront.net/large.jpg",
            ],
        ),
        (
            "wakatime",
            json!({"data": {"id": "b3bfc1d6", "display_name": "Ann Lee", "full_name": "Ann Lee", "username": "ann", "email": "ann@waka.test", "is_email_confirmed": true, "photo": "https://wakatime.com/photo/b3bfc1d6"}}),
            ["b3bfc1d6", "Ann Lee", "ann", "ann@waka.test", "https://wakatime.com/photo/b3bfc1d6"],
        ),
        (
            "livechat",
            json!({"account_id": "d24c9bbc", "name": "Ann Lee", "email": "ann@livechat.test", "email_verified": true, "avatar_url": "https://cdn.livechat-files.com/a.png"}),
            [
                "d24c9bbc",
                "Ann Lee",
                "",
                "ann@livechat.test",
                "https://cdn.livechat-files.com/a.png",
            ],
        ),
        (
            "mailcow",
            json!({"success": true, "id": "6", "identifier": "ann@mail.test", "username": "ann@mail.test", "full_name": "Ann Lee", "email": "ann@mail.test", "displayName": "Ann Lee", "active": 1}),
            ["6", "Ann Lee", "ann", "ann@mail.test", ""],
        ),
        (
            "planningcenter",
            json!({"data": {"type": "Person", "id": "25253", "attributes": {"name": "Ann Lee", "status": "active", "avatar": "https://avatars.planningcenteronline.com/a.png"}}}),
            ["25253", "Ann Lee", "", "", "https://avatars.planningcenteronline.com/a.png"],
        ),
    ];
    for (provider, user, expected) in cases {
        assert_eq!(map(provider, user), expected.map(String::from), "{provider}");
    }
}

/// E-mails the provider does not vouch for are left out; disabled accounts map to no id.
#[test]
fn unverified_emails_and_inactive_accounts() {
    let unverified: Vec<(&str, serde_json::Value)> = vec![
        ("apple", json!({"sub": "a", "email": "x@y.z", "email_verified": "false"})),
        (
            "kakao",
            json!({"id": 1, "kakao_account": {"email": "x@y.z", "is_email_valid": true, "is_email_verified": false}}),
        ),
        (
            "monday",
            json!({"data": {"me": {"id": "1", "enabled": true, "email": "x@y.z", "is_verified": false}}}),
        ),
        (
            "patreon",
            json!({"data": {"id": "1", "attributes": {"email": "x@y.z", "is_email_verified": false}}}),
        ),
        ("wakatime", json!({"data": {"id": "1", "email": "x@y.z", "is_email_confirmed": false}})),
        ("livechat", json!({"account_id": "1", "email": "x@y.z", "email_verified": false})),
        ("gitee", json!({"id": 1, "email": "not-an-address"})),
    ];
    for (provider, user) in unverified {
        let [id, _, _, email, _] = map(provider, user);
        assert_eq!((id.is_empty(), email.as_str()), (false, ""), "{provider}");
    }
    let inactive: Vec<(&str, serde_json::Value)> = vec![
        ("linear", json!({"data": {"viewer": {"id": "1", "email": "x@y.z", "active": false}}})),
        ("monday", json!({"data": {"me": {"id": "1", "enabled": false}}})),
        ("mailcow", json!({"id": "1", "email": "x@y.z", "active": 0})),
        ("planningcenter", json!({"data": {"id": "1", "attributes": {"status": "inactive"}}})),
    ];
    for (provider, user) in inactive {
        assert_eq!(map(provider, user), fields(MappedUser::default()), "{provider}");
    }
    // Avatars that are placeholders are not URLs.
    let [.., avatar] =
        map("yandex", json!({"id": "1", "default_avatar_id": "0/0-0", "is_avatar_empty": true}));
    assert_eq!(avatar, "");
}

#[test]
fn gitee_email_list_and_relative_endpoints() {
    let pick = find("gitee").unwrap().emails.unwrap().pick;
    let list = json!([
        {"email": "old@gitee.test", "state": "confirmed", "scope": ["committed"]},
        {"email": "new@gitee.test", "state": "unconfirmed", "scope": ["primary"]},
        {"email": "main@gitee.test", "state": "confirmed", "scope": ["primary", "committed"]},
    ]);
    assert_eq!(pick(&list), "main@gitee.test");
    // "Keep my e-mail private" answers an object, not a list.
    assert_eq!(pick(&json!({"email": "1+x@user.noreply.gitee.com"})), "");
    let at = find("gitee").unwrap().emails.unwrap().at;
    assert_eq!(
        at.resolve("https://gitee.com/api/v5/user").as_deref(),
        Some("https://gitee.com/api/v5/emails")
    );
    let at = find("github").unwrap().emails.unwrap().at;
    assert_eq!(
        at.resolve("https://ghe.example.com/api/v3/user").as_deref(),
        Some("https://ghe.example.com/api/v3/user/emails")
    );
}
