//! E-mail delivery (spec §6.9, §8.6 `smtp`/`meta`).
//!
//! The application sends mail through a [`Mailer`], swappable with [`App::set_mailer`]. The
//! default one, [`SmtpMailer`], reads the `smtp` settings at every send (so a settings change
//! applies to the next message without a restart) and delivers with lettre over tokio and
//! rustls: implicit TLS when `smtp.tls` is on, otherwise STARTTLS when the server offers it.
//! With `smtp.enabled` off it hands the message to the local `sendmail` program, as PocketBase
//! does; the flows that send mail on behalf of anonymous callers only log failures.
//!
//! Templates use PocketBase's placeholders (`{APP_NAME}`, `{APP_URL}`, `{TOKEN}`, `{OTP}`,
//! `{OTP_ID}`, `{ALERT_INFO}`, `{RECORD:field}`); see [`render`].

use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value as Json;

use crate::App;
use crate::settings::Settings;

/// How long one SMTP conversation may take before it is abandoned.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where `sendmail` is looked for when SMTP is disabled (PocketBase's list).
const SENDMAIL_PATHS: &[&str] =
    &["/usr/bin/sendmail", "/usr/sbin/sendmail", "/usr/local/bin/sendmail"];

/// One message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub from_name: String,
    pub from_address: String,
    pub to: String,
    pub subject: String,
    /// The HTML body (already wrapped in the layout).
    pub html: String,
    /// The plain-text alternative.
    pub text: String,
}

/// The `smtp` section of the settings, as the mailer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    /// `""`/`PLAIN` or `LOGIN`.
    pub auth_method: String,
    /// Implicit TLS (SMTPS).
    pub tls: bool,
    pub local_name: String,
}

impl SmtpConfig {
    pub fn from_settings(settings: &Settings) -> SmtpConfig {
        let s = |key: &str| {
            settings.get(&["smtp", key]).and_then(Json::as_str).unwrap_or("").to_owned()
        };
        SmtpConfig {
            enabled: settings.get(&["smtp", "enabled"]).and_then(Json::as_bool).unwrap_or(false),
            host: s("host"),
            port: settings
                .get(&["smtp", "port"])
                .and_then(Json::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(587),
            username: s("username"),
            password: s("password"),
            auth_method: s("authMethod"),
            tls: settings.get(&["smtp", "tls"]).and_then(Json::as_bool).unwrap_or(false),
            local_name: s("localName"),
        }
    }
}

/// A failure to deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

/// Sends messages. Implementations must finish (or fail) in bounded time.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, config: &SmtpConfig, message: &MailMessage) -> Result<(), MailError>;
}

/// SMTP through lettre, or `sendmail` when SMTP is disabled.
#[derive(Debug, Default, Clone, Copy)]
pub struct SmtpMailer;

fn build(message: &MailMessage) -> Result<lettre::Message, MailError> {
    let from_address = message
        .from_address
        .parse()
        .map_err(|e| MailError(format!("invalid sender address: {e}")))?;
    let from_name = (!message.from_name.is_empty()).then(|| message.from_name.clone());
    let to =
        message.to.parse().map_err(|e| MailError(format!("invalid recipient address: {e}")))?;
    lettre::Message::builder()
        .from(Mailbox::new(from_name, from_address))
        .to(Mailbox::new(None, to))
        .subject(message.subject.clone())
        .multipart(MultiPart::alternative_plain_html(message.text.clone(), message.html.clone()))
        .map_err(|e| MailError(e.to_string()))
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, config: &SmtpConfig, message: &MailMessage) -> Result<(), MailError> {
        let email = build(message)?;
        if !config.enabled {
            let path = SENDMAIL_PATHS
                .iter()
                .find(|p| std::path::Path::new(p).exists())
                .ok_or_else(|| MailError("failed to locate a sendmail executable path.".into()))?;
            let transport = AsyncSendmailTransport::<Tokio1Executor>::new_with_command(*path);
            return match tokio::time::timeout(SMTP_TIMEOUT, transport.send(email)).await {
                Ok(result) => result.map_err(|e| MailError(e.to_string())),
                Err(_) => Err(MailError("sendmail timed out".into())),
            };
        }
        if config.host.is_empty() {
            return Err(MailError("missing SMTP host".into()));
        }
        let tls = TlsParameters::new(config.host.clone()).map_err(|e| MailError(e.to_string()))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .timeout(Some(SMTP_TIMEOUT))
            .tls(if config.tls { Tls::Wrapper(tls) } else { Tls::Opportunistic(tls) })
            .hello_name(ClientId::Domain(if config.local_name.is_empty() {
                "localhost".into()
            } else {
                config.local_name.clone()
            }));
        if !config.username.is_empty() {
            let mechanism =
                if config.auth_method == "LOGIN" { Mechanism::Login } else { Mechanism::Plain };
            builder = builder
                .credentials(Credentials::new(config.username.clone(), config.password.clone()))
                .authentication(vec![mechanism]);
        }
        let transport = builder.build();
        // The transport has its own per-command timeout; this bounds the whole conversation.
        match tokio::time::timeout(SMTP_TIMEOUT * 2, transport.send(email)).await {
            Ok(result) => result.map(|_| ()).map_err(|e| MailError(e.to_string())),
            Err(_) => Err(MailError("SMTP send timed out".into())),
        }
    }
}

/// Replaces each `(placeholder, value)` pair in `template`, in order.
pub fn render(template: &str, placeholders: &[(String, String)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in placeholders {
        if out.contains(key.as_str()) {
            out = out.replace(key.as_str(), value);
        }
    }
    out
}

/// HTML escaping of the characters Go's `html.EscapeString` escapes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The HTML document a rendered template body is sent in.
pub fn html_layout(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\" />\n<style>\nbody {{ margin: 0; padding: 20px 30px; color: #16161a; background: #fff; font-family: sans-serif; font-size: 14px; line-height: 20px; }}\np {{ margin: 10px 0; }}\n.btn {{ display: inline-block; padding: 0 20px; line-height: 40px; border-radius: 6px; color: #fff !important; background: #16161a !important; text-decoration: none !important; font-weight: bold; }}\n</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
}

/// A plain-text rendering of an HTML fragment: tags dropped (links keep their target in
/// parentheses), block ends become line breaks, common entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let tag = &rest[start + 1..start + end];
        let name = tag.trim_start_matches('/').split_whitespace().next().unwrap_or("");
        let name = name.trim_end_matches('/').to_ascii_lowercase();
        if matches!(name.as_str(), "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3")
            && (tag.starts_with('/') || name == "br")
        {
            out.push('\n');
        }
        if name == "a"
            && !tag.starts_with('/')
            && let Some(href) = attribute(tag, "href")
        {
            out.push_str(&format!("[{href}] "));
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    // Collapse the indentation of the source and runs of blank lines.
    let mut text = String::with_capacity(decoded.len());
    let mut blank = false;
    for line in decoded.lines().map(str::trim) {
        if line.is_empty() {
            if !blank && !text.is_empty() {
                text.push('\n');
            }
            blank = true;
        } else {
            text.push_str(line);
            text.push('\n');
            blank = false;
        }
    }
    text.trim_end().to_owned()
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let len = tag[at..].find('"')?;
    Some(&tag[at..at + len])
}

impl App {
    /// Replaces the mailer (tests, or deployments with another delivery path).
    pub fn set_mailer(&self, mailer: Arc<dyn Mailer>) {
        *self.mailer.write() = mailer;
    }

    /// Sends a message built from a template's subject and body with `placeholders`, from the
    /// sender configured in `meta`, with the current `smtp` settings.
    pub(crate) async fn send_template(
        &self,
        to: &str,
        template: &sb_schema::EmailTemplate,
        placeholders: &[(String, String)],
    ) -> Result<(), MailError> {
        let settings = self.settings();
        let meta = |key: &str| {
            settings.get(&["meta", key]).and_then(Json::as_str).unwrap_or("").to_owned()
        };
        let body = render(&template.body, placeholders);
        let message = MailMessage {
            from_name: meta("senderName"),
            from_address: meta("senderAddress"),
            to: to.to_owned(),
            subject: render(&template.subject, placeholders),
            text: html_to_text(&body),
            html: html_layout(&body),
        };
        let config = SmtpConfig::from_settings(&settings);
        let mailer = self.mailer.read().clone();
        mailer.send(&config, &message).await
    }

    /// `{APP_NAME}` and `{APP_URL}` from the `meta` settings.
    pub(crate) fn app_placeholders(&self) -> Vec<(String, String)> {
        let settings = self.settings();
        let meta = |key: &str| {
            settings.get(&["meta", key]).and_then(Json::as_str).unwrap_or("").to_owned()
        };
        vec![("{APP_NAME}".into(), meta("appName")), ("{APP_URL}".into(), meta("appURL"))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders_in_order() {
        let out = render(
            "Hi {RECORD:name} of {APP_NAME}: {TOKEN}",
            &[
                ("{APP_NAME}".into(), "Acme".into()),
                ("{RECORD:name}".into(), escape_html("<b>Bo & 'Al'\"")),
                ("{TOKEN}".into(), "t.o.k".into()),
            ],
        );
        assert_eq!(out, "Hi &lt;b&gt;Bo &amp; &#39;Al&#39;&#34; of Acme: t.o.k");
    }

    #[test]
    fn text_alternative_keeps_words_and_links() {
        let text = html_to_text(
            "<p>Hi,</p>\n<p>\n  <a class=\"btn\" href=\"http://x/#/t/abc\">Confirm</a>\n</p>\n<p>A &amp; B &lt;c&gt;</p>",
        );
        assert_eq!(text, "Hi,\n\n[http://x/#/t/abc] Confirm\n\nA & B <c>");
    }

    #[test]
    fn builds_multipart_message() {
        let message = MailMessage {
            from_name: "Support".into(),
            from_address: "support@example.com".into(),
            to: "u@example.com".into(),
            subject: "Subject".into(),
            html: html_layout("<p>x</p>"),
            text: "x".into(),
        };
        let built = String::from_utf8(build(&message).expect("builds").formatted()).expect("utf8");
        assert!(built.contains("From: Support <support@example.com>"), "{built}");
        assert!(built.contains("To: u@example.com"), "{built}");
        assert!(built.contains("multipart/alternative"), "{built}");
        let bad = MailMessage { to: "not an address".into(), ..message };
        assert!(build(&bad).is_err());
    }
}
