//! What each scenario asks the server, as plain request descriptions.
//!
//! A scenario only decides method, path and body; the load driver decides when and over which
//! connection. Keeping the two apart lets a later open-loop driver reuse the scenarios unchanged.

use bytes::Bytes;
use http::Method;

use crate::data::{self, SplitMix64};

/// The measured operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `GET /api/collections/posts/records/ID` for a random seeded id.
    View,
    /// A filtered, sorted first page: published posts with more than 500 views, most viewed first.
    List,
    /// `POST /api/collections/posts/records` with a small JSON record.
    Create,
    /// `GET /proxy-bench`: a fixed small answer, for proxies in front of a static upstream
    /// (`gateway_bench`).
    Proxy,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::View => "view",
            Scenario::List => "list",
            Scenario::Create => "create",
            Scenario::Proxy => "proxy",
        }
    }
}

/// The filter of the list scenario: it needs the `(published, views)` index and a sort.
pub const LIST_FILTER: &str = "(published=true && views>500)";
/// The sort of the list scenario.
pub const LIST_SORT: &str = "-views";
/// The page size of the list scenario.
pub const LIST_PER_PAGE: u32 = 30;

/// One request to send, without the connection details (host, scheme).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    pub method: Method,
    /// Origin-form target: path and query.
    pub target: String,
    /// A JSON body, if any.
    pub body: Option<Bytes>,
}

/// A scenario bound to the data it runs against.
#[derive(Debug, Clone)]
pub struct Workload {
    pub scenario: Scenario,
    /// How many posts were seeded (the view scenario picks among them).
    pub records: u64,
    /// How many authors were seeded (the create scenario points to one of them).
    pub authors: u64,
    list_target: String,
}

impl Workload {
    pub fn new(scenario: Scenario, records: u64, authors: u64) -> Workload {
        let list_target = format!(
            "{}?filter={}&sort={}&perPage={LIST_PER_PAGE}",
            records_path(),
            encode_component(LIST_FILTER),
            encode_component(LIST_SORT),
        );
        Workload { scenario, records, authors, list_target }
    }

    /// The next request of this workload, drawn with `rng`.
    pub fn next_request(&self, rng: &mut SplitMix64) -> RequestSpec {
        match self.scenario {
            Scenario::View => self.view(rng.below(self.records)),
            Scenario::List => {
                RequestSpec { method: Method::GET, target: self.list_target.clone(), body: None }
            }
            Scenario::Create => RequestSpec {
                method: Method::POST,
                target: records_path(),
                body: Some(Bytes::from(data::new_post(rng, self.authors).to_string())),
            },
            Scenario::Proxy => {
                RequestSpec { method: Method::GET, target: "/proxy-bench".into(), body: None }
            }
        }
    }

    /// A request that must succeed before the load starts: for view it asks for the last
    /// seeded record, so a `--records` larger than what was seeded fails here, not as a stream
    /// of 404s.
    pub fn probe(&self) -> RequestSpec {
        match self.scenario {
            Scenario::View => self.view(self.records.saturating_sub(1)),
            _ => self.next_request(&mut SplitMix64::new(0)),
        }
    }

    fn view(&self, index: u64) -> RequestSpec {
        RequestSpec {
            method: Method::GET,
            target: format!("{}/{}", records_path(), data::post_id(index)),
            body: None,
        }
    }
}

/// Percent-encodes a query value the way the JavaScript SDK does (`encodeURIComponent`, minus
/// the rarely used `!*'()` exceptions): spaces become `%20`, not `+`.
fn encode_component(value: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(value, SET).to_string()
}

fn records_path() -> String {
    format!("/api/collections/{}/records", data::POSTS)
}

#[cfg(test)]
mod tests;
