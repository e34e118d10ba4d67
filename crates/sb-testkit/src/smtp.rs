//! A local SMTP sink for tests: listens on 127.0.0.1 (port 0), speaks enough SMTP for lettre
//! (EHLO/HELO, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT;
//! no STARTTLS) and records every accepted message. Tests wait for a message with
//! [`SmtpSink::wait_for`], a bounded wait on a notification, never a sleep.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Longest line or message the sink accepts (bounds memory on a misbehaving client).
const MAX_LINE: usize = 64 * 1024;
const MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The EHLO/HELO name the client gave.
    pub helo: String,
    /// The decoded `AUTH` credentials (`user`, `password`), when the client authenticated.
    pub auth: Option<(String, String)>,
    /// The `AUTH` mechanism used (`PLAIN`/`LOGIN`).
    pub auth_mechanism: String,
    pub from: String,
    pub to: Vec<String>,
    /// The message as transmitted (headers and MIME body, dot-unstuffed).
    pub data: String,
}

impl Mail {
    /// The value of the first top-level header `name` (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push(' ');
                    v.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The bodies of every MIME part, decoded (quoted-printable and base64), concatenated.
    pub fn body(&self) -> String {
        let mut out = String::new();
        let mut encoding = String::new();
        let mut in_headers = true;
        let mut part = String::new();
        let flush = |out: &mut String, encoding: &str, part: &mut String| {
            out.push_str(&decode(encoding, part));
            out.push('\n');
            part.clear();
        };
        for line in self.data.split("\r\n") {
            if line.starts_with("--") && line.len() > 10 && !line.contains(' ') {
                flush(&mut out, &encoding, &mut part);
                in_headers = true;
                encoding.clear();
                continue;
            }
            if in_headers {
                if line.is_empty() {
                    in_headers = false;
                } else if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("Content-Transfer-Encoding")
                {
                    encoding = v.trim().to_ascii_lowercase();
                }
                continue;
            }
            part.push_str(line);
            part.push_str("\r\n");
        }
        flush(&mut out, &encoding, &mut part);
        out
    }
}

fn decode(encoding: &str, text: &str) -> String {
    match encoding {
        "base64" => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        }
        "quoted-printable" => {
            let mut bytes = Vec::with_capacity(text.len());
            let raw = text.as_bytes();
            let mut i = 0;
            while i < raw.len() {
                if raw[i] == b'=' {
                    if raw.get(i + 1..i + 3) == Some(b"\r\n") {
                        i += 3;
                        continue;
                    }
                    if let Some(hex) = raw.get(i + 1..i + 3)
                        && let Ok(byte) =
                            u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16)
                    {
                        bytes.push(byte);
                        i += 3;
                        continue;
                    }
                }
                bytes.push(raw[i]);
                i += 1;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => text.to_owned(),
    }
}

#[derive(Default)]
struct Shared {
    mails: parking_lot::Mutex<Vec<Mail>>,
    arrived: tokio::sync::Notify,
}

/// The running sink; stops accepting when dropped.
pub struct SmtpSink {
    pub port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind SMTP sink");
        let port = listener.local_addr().expect("SMTP sink address").port();
        let shared = Arc::new(Shared::default());
        let accept_shared = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = accept_shared.clone();
                tokio::spawn(async move {
                    // A broken connection just ends the session.
                    session(stream, shared).await.ok();
                });
            }
        });
        SmtpSink { port, shared, task }
    }

    /// Every message accepted so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.shared.mails.lock().clone()
    }

    /// Messages sent to `address`.
    pub fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.mails().into_iter().filter(|m| m.to.iter().any(|t| t == address)).collect()
    }

    /// Waits (at most `timeout`) for a message matching `predicate`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        predicate: impl Fn(&Mail) -> bool,
    ) -> Option<Mail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            if let Some(m) = self.shared.mails.lock().iter().find(|m| predicate(m)) {
                return Some(m.clone());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Waits (at most 10 s) for the next message to `address` beyond the `seen` first ones.
    pub async fn next_to(&self, address: &str, seen: usize) -> Mail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.shared.arrived.notified();
            let to_address = self.mails_to(address);
            if to_address.len() > seen {
                return to_address[seen].clone();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no mail to {address} within 10 s (had {})", to_address.len());
            }
        }
    }
}

async fn session(stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut current = Mail {
        helo: String::new(),
        auth: None,
        auth_mechanism: String::new(),
        from: String::new(),
        to: Vec::new(),
        data: String::new(),
    };
    write.write_all(b"220 sink ESMTP ready\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if read_line(&mut reader, &mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            current.helo = command[4..].trim().to_owned();
            b"250-sink\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            let encoded = command[10..].trim().to_owned();
            let encoded = if encoded.is_empty() {
                write.write_all(b"334 \r\n").await?;
                let mut next = String::new();
                read_line(&mut reader, &mut next).await?;
                next.trim().to_owned()
            } else {
                encoded
            };
            let decoded = b64(&encoded);
            let mut parts = decoded.split('\0').skip(1);
            current.auth = Some((
                parts.next().unwrap_or("").to_owned(),
                parts.next().unwrap_or("").to_owned(),
            ));
            current.auth_mechanism = "PLAIN".into();
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("AUTH LOGIN") {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            let mut user = String::new();
            read_line(&mut reader, &mut user).await?;
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            let mut password = String::new();
            read_line(&mut reader, &mut password).await?;
            current.auth = Some((b64(user.trim()), b64(password.trim())));
            current.auth_mechanism = "LOGIN".into();
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            current.from = address(&command[10..]);
            current.to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            current.to.push(address(&command[8..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if read_line(&mut reader, &mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                let l = l.strip_prefix('.').unwrap_or(&l);
                if data.len() + l.len() > MAX_MESSAGE {
                    return Ok(());
                }
                data.push_str(l);
            }
            current.data = data;
            shared.mails.lock().push(current.clone());
            shared.arrived.notify_waiters();
            b"250 OK queued\r\n"
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes.
async fn read_line(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut String,
) -> std::io::Result<usize> {
    let mut limited = (&mut *reader).take(MAX_LINE as u64);
    limited.read_line(line).await
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// `<a@b>` (with optional parameters after it) → `a@b`.
fn address(s: &str) -> String {
    let s = s.trim();
    match (s.find('<'), s.find('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].to_owned(),
        _ => s.split_whitespace().next().unwrap_or("").to_owned(),
    }
}
