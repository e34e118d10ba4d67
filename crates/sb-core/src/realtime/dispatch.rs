//! Per-event work of a dispatcher: which subscriptions may see the record, and the payload
//! each of them receives (spec §7.4).
//!
//! Subscriptions are grouped by what their access check depends on (the rule, the `filter`
//! option, and — only when the rule or filter mentions `@request` — the bound auth and the
//! options' query and headers), so ten thousand guests watching a collection share one check.
//! Each group is decided in memory when the evaluator ([`sb_query::evaluate`]) can; the rest are
//! decided together by one SQL statement per event (in chunks of [`SQL_GROUPS`] columns),
//! evaluated against a derived row built from the event record's values, so delete events
//! (whose row is gone) are checked exactly like the others.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sb_query::{Access, AuthInfo, RequestInfo, Scope};
use sb_schema::Collection;
use sb_sql::{Expr, FromItem, Select, SelectItem, Stmt};
use serde_json::{Map, Value as Json};
use tracing::Instrument;

use super::clients::{Client, Subscription, Topic};
use super::{BusEvent, Deliveries, Message};
use crate::catalog::Catalog;
use crate::error::CoreResult;
use crate::records::changes::ChangeAction;
use crate::records::{Record, Viewer, compile_rule};
use crate::{App, storage};

/// Groups decided by one SQL statement (one result column each).
const SQL_GROUPS: usize = 200;
const ALIAS: &str = "t";

struct Candidate {
    client: Arc<Client>,
    sub: Arc<Subscription>,
    auth: Option<Arc<AuthInfo>>,
}

impl Candidate {
    fn superuser(&self) -> bool {
        self.auth.as_ref().is_some_and(|a| a.is_superuser())
    }
}

/// What a group's access check depends on: superuser, rule, filter, and (only when the rule
/// or filter mentions `@request`) the request data.
type GroupKey<'a> = (bool, Option<&'a str>, Option<&'a str>, Option<RequestKey<'a>>);

/// What a payload depends on: superuser, bound auth record, `expand` and `fields`.
type PayloadKey<'a> = (bool, Option<(&'a str, &'a str)>, Option<&'a str>, Option<&'a str>);

#[derive(PartialEq, Eq, Hash)]
struct RequestKey<'a> {
    auth: Option<(&'a str, &'a str)>,
    query: &'a BTreeMap<String, String>,
    headers: &'a BTreeMap<String, String>,
}

/// The bound auth record of a candidate: collection id and record id.
fn auth_key(cand: &Candidate) -> Option<(&str, &str)> {
    cand.auth.as_ref().map(|a| (a.collection.id.as_str(), a.id()))
}

/// One distinct access check.
struct Group {
    rule: Option<String>,
    filter: Option<String>,
    superuser: bool,
    req: RequestInfo,
}

enum Decision {
    Admit,
    Deny,
    Group(usize),
}

/// The request data rules see for a subscription (spec §7.4).
fn request_for(sub: &Subscription, auth: Option<&Arc<AuthInfo>>) -> RequestInfo {
    RequestInfo {
        context: "realtime".into(),
        method: "GET".into(),
        headers: sub.headers.clone(),
        query: sub.query.clone(),
        body: Map::new(),
        auth: auth.map(|a| AuthInfo::clone(a)),
    }
}

impl App {
    pub(super) async fn prepare_event(&self, event: &BusEvent) -> Deliveries {
        match self.try_prepare_event(event).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, collection = %event.collection_id, "realtime event dropped");
                Vec::new()
            }
        }
    }

    async fn try_prepare_event(&self, event: &BusEvent) -> CoreResult<Deliveries> {
        let catalog = self.catalog();
        let Some(c) = catalog.get(&event.collection_id).filter(|c| c.id == event.collection_id)
        else {
            return Ok(Vec::new());
        };
        let c = c.clone();
        let record = Record {
            collection: c.clone(),
            data: event.record.clone(),
            expand: None,
            managed: false,
        };
        let id = record.id().to_owned();
        let clients = self.realtime.clients.snapshot();
        if c.is_auth() {
            sync_bound_auth(&clients, event, &c, &id);
        }

        let mut candidates = Vec::new();
        for client in clients {
            let state = client.state();
            if event.seq <= state.since {
                // Published before the client's current subscriptions were set.
                continue;
            }
            for sub in state.subscriptions.iter() {
                if sub.topic.matches(&c, &id) {
                    candidates.push(Candidate {
                        client: client.clone(),
                        sub: sub.clone(),
                        auth: state.auth.clone(),
                    });
                }
            }
        }
        if candidates.is_empty() {
            return Ok(Vec::new());
        }

        // Group the access checks. Keys borrow from the candidates: ten thousand subscribers
        // cost ten thousand hash lookups, not ten thousand formatted strings.
        let mut keys: HashMap<GroupKey<'_>, usize> = HashMap::new();
        let mut groups: Vec<Group> = Vec::new();
        let decisions: Vec<Decision> = candidates
            .iter()
            .map(|cand| {
                let superuser = cand.superuser();
                let filter = cand.sub.filter();
                let rule = if superuser {
                    None
                } else {
                    let rule = match cand.sub.topic {
                        Topic::Record(..) => c.view_rule.as_deref(),
                        _ => c.list_rule.as_deref(),
                    };
                    match rule {
                        None => return Decision::Deny,
                        Some("") => None,
                        Some(r) => Some(r),
                    }
                };
                if rule.is_none() && filter.is_none() {
                    return Decision::Admit;
                }
                let mentions_request = rule.is_some_and(|r| r.contains("@request"))
                    || filter.is_some_and(|f| f.contains("@request"));
                let request = mentions_request.then(|| RequestKey {
                    auth: auth_key(cand),
                    query: &cand.sub.query,
                    headers: &cand.sub.headers,
                });
                let next = groups.len();
                let index = *keys.entry((superuser, rule, filter, request)).or_insert(next);
                if index == next {
                    groups.push(Group {
                        rule: rule.map(str::to_owned),
                        filter: filter.map(str::to_owned),
                        superuser,
                        req: request_for(&cand.sub, cand.auth.as_ref()),
                    });
                }
                Decision::Group(index)
            })
            .collect();
        let traceparent = event.traceparent.as_deref();
        let verdicts = self.decide_groups(&catalog, &c, &record, &groups, traceparent).await?;

        // Serialise the record once per distinct view of it.
        let action = event.action;
        let mut payloads: HashMap<PayloadKey<'_>, Arc<str>> = HashMap::new();
        let mut out = Vec::new();
        for (cand, decision) in candidates.iter().zip(decisions) {
            let admitted = match decision {
                Decision::Admit => true,
                Decision::Deny => false,
                Decision::Group(i) => verdicts[i],
            };
            if !admitted {
                continue;
            }
            let key = (cand.superuser(), auth_key(cand), cand.sub.expand(), cand.sub.fields());
            let data = match payloads.get(&key) {
                Some(d) => d.clone(),
                None => {
                    let d = self.payload(&catalog, &record, action, cand).await?;
                    payloads.insert(key, d.clone());
                    d
                }
            };
            out.push((cand.client.clone(), Message { event: cand.sub.raw.clone(), data }));
        }
        Ok(out)
    }

    /// The verdict of every group: in memory where possible, the rest by SQL.
    async fn decide_groups(
        &self,
        catalog: &Catalog,
        c: &Arc<Collection>,
        record: &Record,
        groups: &[Group],
        traceparent: Option<&str>,
    ) -> CoreResult<Vec<bool>> {
        let span = sb_observe::trace::rule_evaluate_span(&c.name, groups.len());
        sb_observe::trace::continue_trace(&span, traceparent);
        let mut verdicts = vec![false; groups.len()];
        let mut pending: Vec<(usize, Expr)> = Vec::new();
        span.in_scope(|| {
            for (i, g) in groups.iter().enumerate() {
                match eval_group(catalog, c, &record.data, g) {
                    Some(v) => verdicts[i] = v,
                    None => {
                        if let Some(condition) = compile_group(catalog, c, g) {
                            pending.push((i, condition));
                        }
                    }
                }
            }
        });
        span.record("scalebase.rule.in_memory", groups.len() - pending.len());
        span.record("scalebase.rule.sql", pending.len());
        if pending.is_empty() {
            return Ok(verdicts);
        }
        let row = derived_row(c, &record.data);
        for chunk in pending.chunks(SQL_GROUPS) {
            let select = Select {
                columns: chunk
                    .iter()
                    .map(|(_, condition)| SelectItem::Expr {
                        expr: Expr::Case {
                            whens: vec![(condition.clone(), Expr::Int(1))],
                            else_: Some(Box::new(Expr::Int(0))),
                        },
                        alias: None,
                    })
                    .collect(),
                from: Some(FromItem::Subquery {
                    select: Box::new(row.clone()),
                    alias: ALIAS.into(),
                }),
                ..Default::default()
            };
            let rows = self.store.query(&Stmt::Select(select)).instrument(span.clone()).await?;
            if let Some(values) = rows.rows.into_iter().next() {
                for ((i, _), v) in chunk.iter().zip(values) {
                    verdicts[*i] = v.as_i64() == Some(1);
                }
            }
        }
        Ok(verdicts)
    }

    /// `{"action","record"}` for one subscriber: hidden fields and e-mail as the subscriber
    /// may see them, with the subscription's `expand` and `fields` options applied.
    async fn payload(
        &self,
        catalog: &Catalog,
        record: &Record,
        action: ChangeAction,
        cand: &Candidate,
    ) -> CoreResult<Arc<str>> {
        let req = request_for(&cand.sub, cand.auth.as_ref());
        let viewer = Viewer::from_request(&req);
        let mut records = vec![record.clone()];
        if let Some(expand) = cand.sub.expand() {
            // An expand that cannot be resolved leaves the record unexpanded.
            if let Err(e) = self.expand(catalog, &req, &viewer, &mut records, expand).await {
                tracing::debug!(error = %e, "realtime expand failed");
            }
        }
        self.mark_managed(catalog, &req, &viewer, &mut records).await?;
        let mut json = records.pop().map(|r| r.to_json(&viewer)).unwrap_or(Json::Null);
        if let Some(fields) = cand.sub.fields()
            && let Ok(picker) = sb_filter::fields::parse_fields(fields)
        {
            picker.apply(&mut json);
        }
        let mut data = Map::new();
        data.insert("action".into(), Json::String(action.as_str().into()));
        data.insert("record".into(), json);
        Ok(Json::Object(data).to_string().into())
    }
}

/// Keeps bound auth records in sync with their changes (spec §7.2): an update replaces the
/// bound state unless its `tokenKey` changed; a delete or a new `tokenKey` makes the client a
/// guest.
fn sync_bound_auth(clients: &[Arc<Client>], event: &BusEvent, c: &Collection, id: &str) {
    for client in clients {
        client.update_state(|s| {
            let Some(bound) = &s.auth else { return };
            if bound.collection.id != c.id || bound.id() != id {
                return;
            }
            let same_key = bound.record.get("tokenKey") == event.record.get("tokenKey");
            s.auth = if event.action == ChangeAction::Update && same_key {
                Some(Arc::new(AuthInfo {
                    collection: bound.collection.clone(),
                    record: event.record.clone(),
                }))
            } else {
                None
            };
        });
    }
}

/// The group's verdict computed in memory, when the evaluator handles its rule and filter.
fn eval_group(
    catalog: &Catalog,
    c: &Collection,
    record: &Map<String, Json>,
    g: &Group,
) -> Option<bool> {
    let row = |name: &str| match c.field(name) {
        Some(f) => storage::to_sql(f, record.get(name).unwrap_or(&Json::Null)),
        None => sb_sql::Value::Null,
    };
    let scope = |access| Scope {
        collection: c,
        alias: ALIAS,
        lookup: catalog,
        request: &g.req,
        access,
        now: chrono::Utc::now(),
    };
    let mut verdict = true;
    if let Some(rule) = &g.rule {
        let expr = sb_filter::parse_filter(rule).ok()?;
        verdict &= sb_query::evaluate(&expr, &scope(Access::Full), &row)?;
    }
    if let Some(filter) = &g.filter {
        let access = if g.superuser { Access::Full } else { Access::Client };
        let expr = sb_filter::parse_filter(filter).ok()?;
        verdict &= sb_query::evaluate(&expr, &scope(access), &row)?;
    }
    Some(verdict)
}

/// The group's condition over alias `t`; `None` (never delivered) when it does not compile,
/// e.g. a non-superuser filter that references `@request.*`.
fn compile_group(catalog: &Catalog, c: &Collection, g: &Group) -> Option<Expr> {
    let mut parts = Vec::new();
    if let Some(rule) = &g.rule {
        parts.push(compile_rule(catalog, c, rule, ALIAS, &g.req).ok()?);
    }
    if let Some(filter) = &g.filter {
        let expr = sb_filter::parse_filter(filter).ok()?;
        let scope = Scope {
            collection: c,
            alias: ALIAS,
            lookup: catalog,
            request: &g.req,
            access: if g.superuser { Access::Full } else { Access::Client },
            now: chrono::Utc::now(),
        };
        parts.push(sb_query::compile_filter(&expr, &scope).ok()?);
    }
    Some(Expr::And(parts))
}

/// `SELECT ? AS f1, ? AS f2, ...`: the event record as a one-row table.
pub(crate) fn derived_row(c: &Collection, data: &Map<String, Json>) -> Select {
    Select {
        columns: c
            .fields
            .iter()
            .map(|f| SelectItem::Expr {
                expr: Expr::Param(storage::to_sql(f, data.get(&f.name).unwrap_or(&Json::Null))),
                alias: Some(f.name.clone()),
            })
            .collect(),
        ..Default::default()
    }
}
