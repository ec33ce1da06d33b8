//! One Event store, two APIs: core/v1 is the storage form; events.k8s.io/v1 is converted to and
//! from it, so events a kube-runtime `Recorder` writes show up in `kubectl describe`.

use serde_json::{Map, Value, json};

fn seconds(timestamp: &Value) -> Value {
    match timestamp
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
    {
        Some(time) => Value::String(
            time.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        None => timestamp.clone(),
    }
}

fn present(object: &Value, field: &str) -> Option<Value> {
    object.get(field).filter(|value| !value.is_null()).cloned()
}

/// events.k8s.io/v1 → core/v1 (storage form).
pub fn to_core(event: &Value) -> Value {
    let mut core = Map::new();
    core.insert("apiVersion".into(), json!("v1"));
    core.insert("kind".into(), json!("Event"));
    core.insert(
        "metadata".into(),
        event.get("metadata").cloned().unwrap_or_else(|| json!({})),
    );
    let mut copy = |from: &str, to: &str| {
        if let Some(value) = present(event, from) {
            core.insert(to.into(), value);
        }
    };
    copy("regarding", "involvedObject");
    copy("note", "message");
    copy("reason", "reason");
    copy("type", "type");
    copy("action", "action");
    copy("related", "related");
    copy("eventTime", "eventTime");
    copy("series", "series");
    copy("reportingController", "reportingComponent");
    copy("reportingInstance", "reportingInstance");
    copy("deprecatedSource", "source");
    let event_time = present(event, "eventTime");
    let series_time = event
        .pointer("/series/lastObservedTime")
        .filter(|value| !value.is_null())
        .cloned();
    let first = present(event, "deprecatedFirstTimestamp").or_else(|| event_time.clone());
    let last = series_time
        .or_else(|| present(event, "deprecatedLastTimestamp"))
        .or(event_time);
    if let Some(first) = first {
        core.insert("firstTimestamp".into(), seconds(&first));
    }
    if let Some(last) = last {
        core.insert("lastTimestamp".into(), seconds(&last));
    }
    let count = event
        .pointer("/series/count")
        .cloned()
        .or_else(|| present(event, "deprecatedCount"))
        .unwrap_or(json!(1));
    core.insert("count".into(), count);
    if !core.contains_key("source")
        && let Some(controller) = present(event, "reportingController")
    {
        core.insert("source".into(), json!({"component": controller}));
    }
    Value::Object(core)
}

/// core/v1 (storage form) → events.k8s.io/v1.
pub fn to_events_v1(core: &Value) -> Value {
    let mut event = Map::new();
    event.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    event.insert("kind".into(), json!("Event"));
    event.insert(
        "metadata".into(),
        core.get("metadata").cloned().unwrap_or_else(|| json!({})),
    );
    let mut copy = |from: &str, to: &str| {
        if let Some(value) = present(core, from) {
            event.insert(to.into(), value);
        }
    };
    copy("involvedObject", "regarding");
    copy("message", "note");
    copy("reason", "reason");
    copy("type", "type");
    copy("action", "action");
    copy("related", "related");
    copy("eventTime", "eventTime");
    copy("series", "series");
    copy("reportingComponent", "reportingController");
    copy("reportingInstance", "reportingInstance");
    copy("source", "deprecatedSource");
    copy("firstTimestamp", "deprecatedFirstTimestamp");
    copy("lastTimestamp", "deprecatedLastTimestamp");
    copy("count", "deprecatedCount");
    if !event.contains_key("eventTime") {
        event.insert("eventTime".into(), Value::Null);
    }
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorder_event_is_described_with_count_and_timestamps() {
        let event = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "x.1", "namespace": "ns"},
            "eventTime": "2026-11-27T10:00:00.123456Z",
            "series": {"count": 3, "lastObservedTime": "2026-11-27T10:05:00.000000Z"},
            "regarding": {"kind": "ExternalSecret", "name": "x", "namespace": "ns"},
            "note": "synced", "reason": "Updated", "type": "Normal", "action": "Sync",
            "reportingController": "akvsync", "reportingInstance": "akvsync-0"
        });
        let core = to_core(&event);
        assert_eq!(core["involvedObject"]["name"], "x");
        assert_eq!(core["message"], "synced");
        assert_eq!(core["count"], 3);
        assert_eq!(core["firstTimestamp"], "2026-11-27T10:00:00Z");
        assert_eq!(core["lastTimestamp"], "2026-11-27T10:05:00Z");
        assert_eq!(core["source"]["component"], "akvsync");
        let back = to_events_v1(&core);
        assert_eq!(back["regarding"], event["regarding"]);
        assert_eq!(back["note"], "synced");
        assert_eq!(back["series"], event["series"]);
    }
}
