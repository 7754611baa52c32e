//! What delivery takes from the OpenClaw config (SPEC §7): the default
//! Telegram chat and the bot token. The file is JSON5 — comments, trailing
//! commas, unquoted keys — and is read as such.
//!
//! Lookups are pure functions over the parsed document so they can be tested
//! on any shape; only [`load`] and [`token_from`] touch files.

use std::io;
use std::path::Path;

use serde_json::Value;

use crate::paths;

/// The OpenClaw config as read, or why it could not be.
#[derive(Debug, Clone)]
pub enum Loaded {
    Doc(Value),
    /// No file there: fine when `--target` and `$TELEGRAM_BOT_TOKEN` are given.
    Missing,
    /// Unreadable or not JSON5: the reason, to tell the operator.
    Broken(String),
}

impl Loaded {
    pub fn doc(&self) -> Option<&Value> {
        match self {
            Loaded::Doc(v) => Some(v),
            _ => None,
        }
    }
}

/// Read the OpenClaw config at `path`.
pub fn load(path: &Path) -> Loaded {
    match std::fs::read_to_string(path) {
        Ok(text) => match json5::from_str::<Value>(&text) {
            Ok(v) => Loaded::Doc(v),
            Err(e) => Loaded::Broken(format!(
                "cannot read OpenClaw config {}: {e}",
                path.display()
            )),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Loaded::Missing,
        Err(e) => Loaded::Broken(format!(
            "cannot read OpenClaw config {}: {e}",
            path.display()
        )),
    }
}

/// The default chat: the `main` agent's heartbeat target when it goes to
/// Telegram, else the first usable entry of `channels.telegram.allowFrom`.
pub fn default_target(doc: &Value) -> Option<String> {
    main_heartbeat_target(doc).or_else(|| {
        doc.pointer("/channels/telegram/allowFrom")
            .and_then(Value::as_array)?
            .iter()
            .filter_map(scalar)
            .find(|s| s != "*")
    })
}

fn main_heartbeat_target(doc: &Value) -> Option<String> {
    agents(doc)
        .into_iter()
        .filter(|(id, _)| id.as_deref() == Some("main"))
        .find_map(|(_, agent)| {
            let hb = agent.get("heartbeat")?;
            let target = hb.get("target")?.as_str()?;
            if target.trim().eq_ignore_ascii_case("telegram") {
                hb.get("to").and_then(scalar)
            } else {
                None
            }
        })
}

/// Every agent with its id, whatever shape `agents` has: a list, an object
/// with a `list` (or any other array of agents), or an object keyed by id.
fn agents(doc: &Value) -> Vec<(Option<String>, &Value)> {
    let mut out: Vec<(Option<String>, &Value)> = Vec::new();
    match doc.get("agents") {
        Some(Value::Array(list)) => out.extend(list.iter().map(with_own_id)),
        Some(Value::Object(map)) => {
            if let Some(Value::Array(list)) = map.get("list") {
                out.extend(list.iter().map(with_own_id));
            }
            for (key, value) in map {
                match value {
                    Value::Array(list) if key != "list" => out.extend(list.iter().map(with_own_id)),
                    Value::Object(_) if value.get("heartbeat").is_some() => {
                        let id = value.get("id").and_then(scalar).unwrap_or(key.clone());
                        out.push((Some(id), value));
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out
}

fn with_own_id(agent: &Value) -> (Option<String>, &Value) {
    (agent.get("id").and_then(scalar), agent)
}

/// A chat id written as a string or a number.
fn scalar(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e18 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// The bot token: `channels.telegram.botToken`, else the file named by
/// `channels.telegram.tokenFile` (trimmed; `~` expanded; a relative path is
/// taken from the config's folder), else `env_token`.
pub fn token_from(
    doc: Option<&Value>,
    config_path: &Path,
    env_token: Option<&str>,
) -> Option<String> {
    let telegram = doc.and_then(|d| d.pointer("/channels/telegram"));
    if let Some(t) = telegram
        .and_then(|t| t.get("botToken"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return Some(t.to_string());
    }
    if let Some(file) = telegram
        .and_then(|t| t.get("tokenFile"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        let mut path = paths::expand_tilde(file);
        if path.is_relative() {
            if let Some(dir) = config_path.parent() {
                path = dir.join(path);
            }
        }
        if let Ok(text) = std::fs::read_to_string(&path) {
            let t = text.trim();
            if !t.is_empty() {
                return Some(t.to_string());
            }
        }
    }
    env_token
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Value {
        json5::from_str(text).unwrap()
    }

    #[test]
    fn json5_with_comments_trailing_commas_and_bare_keys() {
        let doc = parse(
            r#"{
              // the gateway's agents
              agents: { list: [
                { id: "helper", heartbeat: { target: "telegram", to: "111" } },
                { id: "main", heartbeat: { target: "telegram", to: -100222, }, },
              ], },
              /* channels */
              channels: { telegram: { allowFrom: [333,], botToken: "t", }, },
            }"#,
        );
        assert_eq!(default_target(&doc).as_deref(), Some("-100222"));
    }

    #[test]
    fn heartbeat_elsewhere_falls_back_to_allow_from() {
        let doc = json!({
            "agents": {"list": [{"id": "main", "heartbeat": {"target": "whatsapp", "to": "x"}}]},
            "channels": {"telegram": {"allowFrom": ["*", 444, "555"]}}
        });
        assert_eq!(default_target(&doc).as_deref(), Some("444"));
        let doc = json!({"channels": {"telegram": {"allowFrom": ["@ops"]}}});
        assert_eq!(default_target(&doc).as_deref(), Some("@ops"));
        assert_eq!(default_target(&json!({})), None);
        assert_eq!(default_target(&json!({"agents": 3, "channels": []})), None);
    }

    #[test]
    fn agents_as_a_list_or_keyed_by_id() {
        let doc =
            json!({"agents": [{"id": "main", "heartbeat": {"target": "telegram", "to": "1"}}]});
        assert_eq!(default_target(&doc).as_deref(), Some("1"));
        let doc = json!({"agents": {"main": {"heartbeat": {"target": "telegram", "to": 2}}}});
        assert_eq!(default_target(&doc).as_deref(), Some("2"));
        let doc = json!({"agents": {"defaults": {}, "entries": [{"id": "main", "heartbeat": {"target": "Telegram", "to": "3"}}]}});
        assert_eq!(default_target(&doc).as_deref(), Some("3"));
    }

    #[test]
    fn token_sources_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("openclaw.json");
        std::fs::write(dir.path().join("tok"), "  from-file\n").unwrap();

        let doc = json!({"channels": {"telegram": {"botToken": "inline", "tokenFile": "tok"}}});
        assert_eq!(
            token_from(Some(&doc), &cfg, Some("env")).as_deref(),
            Some("inline")
        );
        let doc = json!({"channels": {"telegram": {"tokenFile": "tok"}}});
        assert_eq!(
            token_from(Some(&doc), &cfg, Some("env")).as_deref(),
            Some("from-file")
        );
        let abs = dir.path().join("tok").display().to_string();
        let doc = json!({"channels": {"telegram": {"tokenFile": abs}}});
        assert_eq!(
            token_from(Some(&doc), &cfg, None).as_deref(),
            Some("from-file")
        );
        let doc = json!({"channels": {"telegram": {"tokenFile": "missing"}}});
        assert_eq!(
            token_from(Some(&doc), &cfg, Some(" env ")).as_deref(),
            Some("env")
        );
        assert_eq!(token_from(None, &cfg, None), None);
    }

    #[test]
    fn load_tells_missing_from_broken() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load(&dir.path().join("nope.json")),
            Loaded::Missing
        ));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{ not: json5: at all").unwrap();
        assert!(matches!(load(&bad), Loaded::Broken(_)));
        let good = dir.path().join("good.json");
        std::fs::write(&good, "{a: 1, // c\n}").unwrap();
        assert_eq!(load(&good).doc(), Some(&json!({"a": 1})));
    }
}
