//! ActionTrail 2020-07-06, as far as the trail Rampart keeps goes: `LookupEvents`.
//!
//! Each account sees its own events only; the permission is `actiontrail:LookupEvents`,
//! which `AdministratorAccess` and the ActionTrail system policies grant.

use std::time::Duration;

use rampart_model::Timestamp;
use rampart_store::{AuditCursor, AuditQuery};
use rampart_wire::ApiError;
use serde_json::{json, Value};

use crate::call::Call;
use crate::errors::store_error;
use crate::product::{Access, ActionSpec, HandlerFuture, Product};

pub static ACTIONTRAIL: Product = Product {
    name: "Actiontrail",
    service: "actiontrail",
    version: "2020-07-06",
    host: "actiontrail.aliyuncs.com",
    actions: &ACTIONS,
};

static ACTIONS: [ActionSpec; 1] = [ActionSpec {
    name: "LookupEvents",
    access: Access::Authorized {
        permission: "actiontrail:LookupEvents",
        resources: trail_resource,
    },
    handler: lookup_events,
}];

fn trail_resource(call: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![format!("acs:actiontrail:*:{}:*", call.account()?)])
}

/// ActionTrail's defaults: the last 7 days, 20 events a page, at most 50.
const DEFAULT_WINDOW: Duration = Duration::from_secs(7 * 86_400);
const DEFAULT_MAX_RESULTS: i64 = 20;
const MAX_RESULTS: i64 = 50;
/// ActionTrail reads the first two attributes.
const MAX_ATTRIBUTES: usize = 2;

fn invalid(param: &str, why: &str) -> ApiError {
    ApiError::new(
        format!("InvalidParameter.{param}"),
        format!("The parameter - \"{param}\" is not valid: {why}"),
        400,
    )
}

fn time(call: &Call, name: &str) -> Result<Option<Timestamp>, ApiError> {
    match call.param(name) {
        None | Some("") => Ok(None),
        Some(text) => Timestamp::parse(text)
            .map(Some)
            .map_err(|_| invalid(name, "it must be a UTC time as yyyy-MM-ddTHH:mm:ssZ.")),
    }
}

/// `NextToken`: the last event returned, as `<millis>.<position>`.
fn cursor(call: &Call) -> Result<Option<AuditCursor>, ApiError> {
    let Some(text) = call.param("NextToken").filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let bad = || invalid("NextToken", "it was not returned by LookupEvents.");
    let (time, pk) = text.split_once('.').ok_or_else(bad)?;
    Ok(Some(AuditCursor {
        event_time_millis: time.parse().map_err(|_| bad())?,
        pk: pk.parse().map_err(|_| bad())?,
    }))
}

fn apply_attribute(query: &mut AuditQuery, key: &str, value: &str) -> Result<(), ApiError> {
    let slot = match key {
        "EventName" => &mut query.event_name,
        "User" => &mut query.user_name,
        "EventAccessKeyId" => &mut query.access_key_id,
        "ResourceName" => &mut query.resource_name,
        "ResourceType" => &mut query.resource_type,
        "EventRW" => &mut query.event_rw,
        "ServiceName" => &mut query.service_name,
        "EventId" => &mut query.event_id,
        "SourceIpAddress" => &mut query.source_ip,
        _ => {
            return Err(invalid(
                "LookupAttribute.Key",
                "it must be one of EventName, User, EventAccessKeyId, ResourceName, \
                 ResourceType, EventRW, ServiceName, EventId, SourceIpAddress.",
            ))
        }
    };
    // The same key twice: the later one counts, as ActionTrail documents.
    *slot = Some(value.to_owned());
    Ok(())
}

pub fn lookup_events(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let account = call.account()?.to_string();
        let end = time(call, "EndTime")?.unwrap_or(call.now);
        let start = time(call, "StartTime")?.unwrap_or(end.saturating_sub(DEFAULT_WINDOW));
        if start > end {
            return Err(invalid("StartTime", "it must not be later than EndTime."));
        }
        // 0 means the default, as the SDK documents (0–50).
        let max = match call.int("MaxResults", 0, MAX_RESULTS)? {
            None | Some(0) => DEFAULT_MAX_RESULTS,
            Some(n) => n,
        };
        // BACKWARD (the default): newest first; FORWARD: oldest first.
        let oldest_first = match call.param("Direction") {
            None | Some("") | Some("BACKWARD") => false,
            Some("FORWARD") => true,
            Some(_) => return Err(invalid("Direction", "it must be FORWARD or BACKWARD.")),
        };
        let mut query = AuditQuery {
            account_id: Some(account),
            // Whole seconds on the wire; the store keeps milliseconds.
            start: Some(start),
            end: Some(end.saturating_add(Duration::from_millis(999))),
            after: cursor(call)?,
            oldest_first,
            // One more than asked, to know whether there is a next page.
            limit: u32::try_from(max + 1).unwrap_or(51),
            ..AuditQuery::default()
        };
        for n in 1..=MAX_ATTRIBUTES {
            let key = call.param(&format!("LookupAttribute.{n}.Key"));
            let value = call.param(&format!("LookupAttribute.{n}.Value"));
            match (key, value) {
                (None, None) => break,
                (Some(key), Some(value)) => apply_attribute(&mut query, key, value)?,
                _ => {
                    return Err(invalid(
                        "LookupAttribute",
                        "each attribute needs both Key and Value.",
                    ))
                }
            }
        }
        let mut rows = call
            .store
            .search_audit_events(&query)
            .await
            .map_err(store_error)?;
        let more = rows.len() > usize::try_from(max).unwrap_or(50);
        rows.truncate(usize::try_from(max).unwrap_or(50));
        let next = match (more, rows.last()) {
            (true, Some(last)) => Some(format!(
                "{}.{}",
                last.cursor.event_time_millis, last.cursor.pk
            )),
            _ => None,
        };
        let events: Vec<Value> = rows
            .into_iter()
            .filter_map(|r| serde_json::from_str(&r.record.body).ok())
            .collect();
        let mut reply = json!({
            "StartTime": start.to_string(),
            "EndTime": end.to_string(),
            "Events": events,
        });
        // Absent on the last page, as ActionTrail answers.
        if let (Some(next), Some(map)) = (next, reply.as_object_mut()) {
            map.insert("NextToken".into(), Value::String(next));
        }
        Ok(crate::ram::common::body(reply))
    })
}
