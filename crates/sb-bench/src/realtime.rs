//! The realtime fan-out scenario's pure parts, driven by the `realtime_bench` binary: its name,
//! the subscriber's side of the wire (an HTTP/1.1 response head, a chunked body, Server-Sent
//! Events), and the bookkeeping that turns writes and arrivals into a [`RunResult`].
//!
//! Every subscriber must receive every event. Each written record carries its sequence number
//! (`seq`); a subscriber notes when each sequence number first arrived, and after the run
//! [`tally`] compares the arrivals with the writes: an event of a successful write that did not
//! arrive is missing, an arrival's latency runs from when its write request was sent.
//!
//! Why from the request: the server acknowledges a write only after its commit, and it may
//! deliver the event before its answer reaches the writer, so neither the answer nor anything
//! the driver can observe marks the commit. The send time is the last moment known to be
//! before it, which makes the latency an upper bound of commit-to-event (by the time the request
//! takes to reach the commit: parsing, the rule check, the insert and the fsync).

use std::collections::BTreeMap;

use anyhow::{Context, bail, ensure};
use hdrhistogram::Histogram;

use crate::results::{Latency, RunResult};

/// The scenario's name in the results: `realtime-1k` for 1000 subscribers, `realtime-10k` for
/// 10 000, `realtime-N` otherwise.
pub fn scenario_name(subscribers: usize) -> String {
    match subscribers {
        1000 => "realtime-1k".to_owned(),
        10_000 => "realtime-10k".to_owned(),
        n => format!("realtime-{n}"),
    }
}

/// The file descriptors this process needs for `subscribers` streams: one socket each, plus a
/// margin for the writers' and subscription requests' connections, the runtime and the server's
/// log.
pub fn fds_needed(subscribers: usize) -> u64 {
    subscribers as u64 + 256
}

/// The highest soft limit of open files set (Linux's default `fs.nr_open`): an unlimited hard
/// limit cannot be copied into the soft one.
const FD_CEILING: u64 = 1 << 20;

/// The soft limit of open files to set for `needed` descriptors, given the current `soft` and
/// `hard` limits: `None` when the soft limit is already enough, the hard limit (at most
/// [`FD_CEILING`]) when the soft one must be raised, and an error telling how to raise it when
/// even the hard limit is too low.
pub fn fd_soft_limit(soft: u64, hard: u64, needed: u64) -> anyhow::Result<Option<u64>> {
    if soft >= needed {
        return Ok(None);
    }
    ensure!(
        needed <= FD_CEILING,
        "about {needed} file descriptors are needed, more than this benchmark raises the limit to"
    );
    ensure!(
        hard >= needed,
        "about {needed} file descriptors are needed but the hard limit of open files is {hard}: \
         raise it (`ulimit -Hn {needed}` as root, or nofile in /etc/security/limits.conf) or use \
         fewer subscribers"
    );
    Ok(Some(hard.min(FD_CEILING)))
}

/// The head of an HTTP/1.1 response: what the subscriber needs to read the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// `Transfer-Encoding: chunked` (else the body runs to the end of the connection).
    pub chunked: bool,
}

/// Parses a response head at the start of `buf`: `None` while it is incomplete, else the head and
/// its length in bytes (the body starts there).
pub fn parse_response_head(buf: &[u8]) -> anyhow::Result<Option<(ResponseHead, usize)>> {
    const HEAD_LIMIT: usize = 64 * 1024;
    let Some(end) = find(buf, b"\r\n\r\n") else {
        ensure!(buf.len() <= HEAD_LIMIT, "no end of the response head in {HEAD_LIMIT} bytes");
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).context("response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        bail!("invalid status line {status_line:?}");
    };
    ensure!(version.starts_with("HTTP/1."), "not an HTTP/1 response: {status_line:?}");
    let status = code.parse().with_context(|| format!("invalid status line {status_line:?}"))?;
    let chunked = lines.filter_map(|line| line.split_once(':')).any(|(name, value)| {
        name.trim().eq_ignore_ascii_case("transfer-encoding")
            && value.split(',').any(|v| v.trim().eq_ignore_ascii_case("chunked"))
    });
    Ok(Some((ResponseHead { status, chunked }, end + 4)))
}

/// Decodes a body sent with `Transfer-Encoding: chunked`, whatever the pieces it arrives in.
#[derive(Debug, Default)]
pub struct ChunkedDecoder {
    state: ChunkState,
    /// The part of a chunk-size line read so far.
    size_line: Vec<u8>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line (hex size, optional extensions, CRLF).
    #[default]
    Size,
    /// This many bytes of chunk data are left.
    Data(usize),
    /// The CRLF after a chunk's data; how many of its two bytes were read.
    DataEnd(u8),
    /// The last (empty) chunk was read; trailers and anything after are ignored.
    Done,
}

impl ChunkedDecoder {
    /// Appends the body bytes of `input` to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> anyhow::Result<()> {
        while !input.is_empty() {
            match self.state {
                ChunkState::Size => {
                    let Some(newline) = input.iter().position(|b| *b == b'\n') else {
                        self.size_line.extend_from_slice(input);
                        ensure!(self.size_line.len() <= 1024, "chunk-size line too long");
                        return Ok(());
                    };
                    self.size_line.extend_from_slice(&input[..newline]);
                    input = &input[newline + 1..];
                    let line = std::str::from_utf8(&self.size_line).unwrap_or_default();
                    let hex = line.trim_end_matches('\r').split(';').next().unwrap_or_default();
                    let size = usize::from_str_radix(hex.trim(), 16)
                        .with_context(|| format!("invalid chunk size {line:?}"))?;
                    self.size_line.clear();
                    self.state = if size == 0 { ChunkState::Done } else { ChunkState::Data(size) };
                }
                ChunkState::Data(left) => {
                    let take = left.min(input.len());
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    self.state = if take == left {
                        ChunkState::DataEnd(0)
                    } else {
                        ChunkState::Data(left - take)
                    };
                }
                ChunkState::DataEnd(read) => {
                    let expected = if read == 0 { b'\r' } else { b'\n' };
                    ensure!(input[0] == expected, "chunk data not followed by CRLF");
                    input = &input[1..];
                    self.state = if read == 0 { ChunkState::DataEnd(1) } else { ChunkState::Size };
                }
                ChunkState::Done => return Ok(()),
            }
        }
        Ok(())
    }

    /// The last chunk was read: the server ended the stream.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub id: String,
    pub event: String,
    /// The `data` lines, joined with newlines.
    pub data: String,
}

/// Splits an event stream into events, whatever the pieces it arrives in. Lines end with LF or
/// CRLF; an empty line ends an event; comments and unknown fields are skipped.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Where the next unread line starts in `buf`.
    pos: usize,
    current: SseEvent,
    /// The current event has at least one field.
    started: bool,
    /// The current event has a `data` line (an empty one included).
    has_data: bool,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) {
        // Drop the consumed lines before growing, so the buffer stays about one event long.
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if the bytes pushed so far hold one.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let rest = &self.buf[self.pos..];
            let newline = rest.iter().position(|b| *b == b'\n')?;
            let line = &rest[..newline];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = String::from_utf8_lossy(line).into_owned();
            self.pos += newline + 1;
            if line.is_empty() {
                self.has_data = false;
                if std::mem::take(&mut self.started) {
                    return Some(std::mem::take(&mut self.current));
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => self.current.id = value.to_owned(),
                "event" => self.current.event = value.to_owned(),
                "data" => {
                    if std::mem::replace(&mut self.has_data, true) {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                }
                _ => continue,
            }
            self.started = true;
        }
    }
}

/// The `seq` number of a record event's data (`{"action":…,"record":{…,"seq":12,…}}`), read
/// without parsing the whole JSON: a subscriber reads every event, and the driver has one core.
pub fn event_seq(data: &str) -> Option<u64> {
    const KEY: &str = "\"seq\":";
    let start = data.find(KEY)? + KEY.len();
    let rest = data[start..].trim_start();
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let number: f64 = rest[..end].parse().ok()?;
    (number >= 0.0 && number.fract() == 0.0).then_some(number as u64)
}

/// Marks a sequence number that has not arrived in [`Arrivals`].
const NOT_ARRIVED: u32 = u32::MAX;

/// When each event first reached one subscriber, by sequence number, in microseconds since the
/// start of the writes (`u32` keeps 10 000 subscribers × 1000 events at 40 MB; a run is far
/// shorter than the 71 minutes it holds).
#[derive(Debug, Clone)]
pub struct Arrivals {
    at_us: Vec<u32>,
    distinct: usize,
    /// Events whose sequence number had already arrived.
    pub duplicates: u64,
    /// Events without a sequence number of this run.
    pub unparsed: u64,
    /// SSE bytes read (after the HTTP framing).
    pub bytes: u64,
}

impl Arrivals {
    pub fn new(events: usize) -> Arrivals {
        Arrivals {
            at_us: vec![NOT_ARRIVED; events],
            distinct: 0,
            duplicates: 0,
            unparsed: 0,
            bytes: 0,
        }
    }

    /// Notes an event (its sequence number, when it could be read) that arrived `at_us` after
    /// the start; only an event's first arrival counts.
    pub fn record(&mut self, seq: Option<u64>, at_us: u64) {
        let slot = seq.and_then(|s| usize::try_from(s).ok()).and_then(|s| self.at_us.get_mut(s));
        match slot {
            None => self.unparsed += 1,
            Some(slot) if *slot != NOT_ARRIVED => self.duplicates += 1,
            Some(slot) => {
                *slot = u32::try_from(at_us).unwrap_or(NOT_ARRIVED - 1);
                self.distinct += 1;
            }
        }
    }

    /// Every sequence number of the run has arrived.
    pub fn complete(&self) -> bool {
        self.distinct == self.at_us.len()
    }

    /// When event `seq` first arrived.
    pub fn at(&self, seq: usize) -> Option<u64> {
        self.at_us.get(seq).filter(|t| **t != NOT_ARRIVED).map(|t| u64::from(*t))
    }
}

/// What became of one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Not attempted (the run stopped first).
    NotSent,
    /// Answered 2xx; its request was sent `sent_us` after the start.
    Ok { sent_us: u64 },
    /// Failed with an error kind (`write 500`, `write transport`); the record may still have
    /// been committed and its event delivered.
    Failed { sent_us: u64, kind: String },
}

impl WriteOutcome {
    fn sent_us(&self) -> Option<u64> {
        match self {
            WriteOutcome::NotSent => None,
            WriteOutcome::Ok { sent_us } | WriteOutcome::Failed { sent_us, .. } => Some(*sent_us),
        }
    }
}

/// Latency bookkeeping of a run: the writes and every subscriber's arrivals put together.
#[derive(Debug)]
pub struct Tally {
    /// Events that reached a subscriber (first arrivals of a sent write).
    pub delivered: u64,
    /// Events of successful writes that some subscriber never got.
    pub missing: u64,
    /// Subscribers that missed at least one event.
    pub subscribers_missing: usize,
    pub ok_writes: u64,
    /// Failures by kind: failed writes, missing, duplicate and unreadable events.
    pub error_kinds: BTreeMap<String, u64>,
    /// Latency of each delivered event, from its write's request to its arrival, in µs.
    pub latency_us: Histogram<u64>,
    /// The last first arrival, in µs since the start.
    pub last_arrival_us: Option<u64>,
    pub bytes: u64,
}

/// Longest latency the histogram holds (10 minutes); longer ones are recorded as this.
const MAX_LATENCY_US: u64 = 600_000_000;

/// Puts the writes (indexed by sequence number) and the subscribers' arrivals together.
pub fn tally(writes: &[WriteOutcome], subscribers: &[Arrivals]) -> anyhow::Result<Tally> {
    let mut tally = Tally {
        delivered: 0,
        missing: 0,
        subscribers_missing: 0,
        ok_writes: 0,
        error_kinds: BTreeMap::new(),
        latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
        last_arrival_us: None,
        bytes: 0,
    };
    let mut error = |kind: &str, n: u64| {
        if n > 0 {
            *tally.error_kinds.entry(kind.to_owned()).or_default() += n;
        }
    };
    for write in writes {
        if let WriteOutcome::Failed { kind, .. } = write {
            error(kind, 1);
        }
    }
    let mut missing = 0;
    let mut duplicates = 0;
    let mut unparsed = 0;
    for arrivals in subscribers {
        let mut missed = false;
        for (seq, write) in writes.iter().enumerate() {
            match (arrivals.at(seq), write.sent_us()) {
                (Some(at), Some(sent)) => {
                    tally.latency_us.saturating_record(at.saturating_sub(sent).max(1));
                    tally.delivered += 1;
                    tally.last_arrival_us = tally.last_arrival_us.max(Some(at));
                }
                (None, _) if matches!(write, WriteOutcome::Ok { .. }) => {
                    missing += 1;
                    missed = true;
                }
                // An event of a write that was never sent is not one of this run's.
                (Some(_), None) => unparsed += 1,
                (None, _) => {}
            }
        }
        tally.subscribers_missing += usize::from(missed);
        duplicates += arrivals.duplicates;
        unparsed += arrivals.unparsed;
        tally.bytes += arrivals.bytes;
    }
    error("missing event", missing);
    error("duplicate event", duplicates);
    error("unparsed event", unparsed);
    tally.missing = missing;
    tally.ok_writes = writes.iter().filter(|w| matches!(w, WriteOutcome::Ok { .. })).count() as u64;
    Ok(tally)
}

/// How a realtime run was set up, for its [`RunResult`].
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub label: String,
    pub url: String,
    pub subscribers: usize,
    /// Writes per second when paced, `None` when the writers go as fast as they are answered.
    pub write_rate: Option<f64>,
    /// From the first write's request to the last arrival (or the last answer, if later).
    pub measured_secs: f64,
}

/// The run as the harness's result: requests are delivered events, the latency is
/// write-request-to-event, errors are failed writes plus missing, duplicate and unreadable
/// events.
pub fn run_result(info: &RunInfo, tally: &Tally) -> RunResult {
    let secs = info.measured_secs.max(f64::EPSILON);
    RunResult {
        label: info.label.clone(),
        scenario: scenario_name(info.subscribers),
        url: info.url.clone(),
        mode: "fanout".to_owned(),
        target_rate: info.write_rate,
        connections: info.subscribers,
        warmup_secs: 0.0,
        measured_secs: info.measured_secs,
        requests: tally.delivered,
        requests_per_sec: tally.delivered as f64 / secs,
        errors: tally.error_kinds.values().sum(),
        error_kinds: tally.error_kinds.clone(),
        body_bytes_per_sec: tally.bytes as f64 / secs,
        latency_ms: Latency::from_micros(&tally.latency_us),
        server: None,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests;
