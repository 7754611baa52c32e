//! Reading the OpenClaw config file the way OpenClaw does (SPEC §7 step 1):
//! JSON5, `$include` files resolved (relative to the including file,
//! confined to the config's folder), and `${VAR}` substituted in string
//! values from the process environment, `<home>/.env` and the config's own
//! `env.vars` (highest first).
//!
//! The document is first read into [`Node`], which keeps the order of an
//! object's keys as written: OpenClaw's "first account" is the first key of
//! `channels.telegram.accounts` in the file, which a sorted map would lose.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Includes nest at most this deep (OpenClaw's limit too).
const MAX_INCLUDE_DEPTH: usize = 10;

/// An included file larger than this is refused: a config is small, and a
/// mistaken include of a log file must not cost the tick its memory.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A JSON5 value whose objects keep their keys in file order.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Scalar(Value),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(pairs) => pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The keys of the object at `path`, in file order.
    pub(super) fn keys_at(&self, path: &[&str]) -> Vec<String> {
        let mut node = self;
        for key in path {
            match node.get(key) {
                Some(n) => node = n,
                None => return Vec::new(),
            }
        }
        match node {
            Node::Object(pairs) => pairs.iter().map(|(k, _)| k.clone()).collect(),
            _ => Vec::new(),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Node::Scalar(v) => v,
            Node::Array(items) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Node::Object(pairs) => Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect(),
            ),
        }
    }

    /// `other` merged over `self`: objects key by key, anything else replaced.
    fn merge(self, other: Node) -> Node {
        match (self, other) {
            (Node::Object(mut base), Node::Object(over)) => {
                for (k, v) in over {
                    match base.iter().position(|(bk, _)| *bk == k) {
                        Some(i) => {
                            let old = std::mem::replace(&mut base[i].1, Node::Scalar(Value::Null));
                            base[i].1 = old.merge(v);
                        }
                        None => base.push((k, v)),
                    }
                }
                Node::Object(base)
            }
            (_, over) => over,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON5 value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Scalar(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Scalar(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Scalar(
                    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Scalar(Value::String(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Scalar(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut pairs: Vec<(String, Node)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Node>()? {
                    // A repeated key: the last one counts, where the first stood.
                    match pairs.iter().position(|(pk, _)| *pk == k) {
                        Some(i) => pairs[i].1 = v,
                        None => pairs.push((k, v)),
                    }
                }
                Ok(Node::Object(pairs))
            }
        }
        d.deserialize_any(V)
    }
}

/// The environment `${VAR}` and SecretRef `env` tokens are looked up in,
/// highest first: the process, `<home>/.env`, the config's `env.vars`.
#[derive(Debug, Clone, Default)]
pub struct EnvSources {
    pub process: BTreeMap<String, String>,
    pub dotenv: BTreeMap<String, String>,
    /// `<home>/.env`, whether or not it exists.
    pub dotenv_path: PathBuf,
    /// Why `.env` could not be read (it exists but is not readable).
    pub dotenv_error: Option<String>,
    pub config_vars: BTreeMap<String, String>,
}

impl EnvSources {
    /// A variable's value and where it came from.
    pub fn get(&self, name: &str) -> Option<(&str, &'static str)> {
        fn found<'m>(map: &'m BTreeMap<String, String>, name: &str) -> Option<&'m str> {
            map.get(name)
                .map(String::as_str)
                .filter(|v| !v.trim().is_empty())
        }
        found(&self.process, name)
            .map(|v| (v, "the environment"))
            .or_else(|| found(&self.dotenv, name).map(|v| (v, "<home>/.env")))
            .or_else(|| found(&self.config_vars, name).map(|v| (v, "env.vars")))
    }

    /// The sources without a config: the process and `<home>/.env`.
    pub fn without_config(home: &Path, process: &BTreeMap<String, String>) -> EnvSources {
        let mut env = EnvSources {
            process: process.clone(),
            dotenv_path: home.join(".env"),
            ..Default::default()
        };
        env.read_dotenv();
        env
    }

    fn read_dotenv(&mut self) {
        match std::fs::read_to_string(&self.dotenv_path) {
            Ok(text) => self.dotenv = parse_dotenv(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => self.dotenv_error = Some(format!("{}: {e}", self.dotenv_path.display())),
        }
    }
}

/// The OpenClaw config as read: the document with includes and variables
/// resolved, and what went into it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub doc: Value,
    /// The document before `${VAR}` substitution (to say where a value came from).
    pub raw: Value,
    /// Every included file, in the order read.
    pub includes: Vec<PathBuf>,
    pub env: EnvSources,
    /// `${VAR}` references left as written because the variable is unset:
    /// (JSON path, variable).
    pub unresolved: Vec<(String, String)>,
    /// The ids of `channels.telegram.accounts` in file order.
    pub account_order: Vec<String>,
}

/// Why the file could not be used.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadError {
    /// No file there.
    Missing,
    /// Unreadable, not JSON5, or a bad include: the reason.
    Broken(String),
}

/// Read the config at `path`; `home` holds the `.env`; `process` is the
/// process environment.
pub fn load(
    path: &Path,
    home: &Path,
    process: &BTreeMap<String, String>,
) -> Result<Source, LoadError> {
    let text = match read_limited(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(LoadError::Missing),
        Err(e) => {
            return Err(LoadError::Broken(format!(
                "cannot read OpenClaw config {}: {e}",
                path.display()
            )))
        }
    };
    let broken = |why: String| {
        LoadError::Broken(format!(
            "cannot read OpenClaw config {}: {why}",
            path.display()
        ))
    };
    let node = parse(&text).map_err(broken)?;
    let folder = path.parent().unwrap_or(Path::new("/"));
    let root = folder
        .canonicalize()
        .unwrap_or_else(|_| folder.to_path_buf());
    let mut includes = Vec::new();
    let mut stack = vec![path.canonicalize().unwrap_or_else(|_| path.to_path_buf())];
    let node = resolve_includes(node, folder, &root, &mut stack, &mut includes).map_err(broken)?;

    let mut env = EnvSources {
        process: process.clone(),
        dotenv_path: home.join(".env"),
        config_vars: config_vars(&node),
        ..Default::default()
    };
    env.read_dotenv();
    let account_order = node.keys_at(&["channels", "telegram", "accounts"]);
    let mut unresolved = Vec::new();
    let raw = node.clone().into_value();
    let node = substitute(node, &env, "", &mut unresolved);
    Ok(Source {
        path: path.to_path_buf(),
        doc: node.into_value(),
        raw,
        includes,
        env,
        unresolved,
        account_order,
    })
}

fn read_limited(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES).read_to_string(&mut text)?;
    Ok(text)
}

fn parse(text: &str) -> Result<Node, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The JSON5 parser recurses once per level: a hostile or broken file
    // nested 60,000 deep would overflow the stack and kill the tick.
    if nesting(text) > MAX_NESTING {
        return Err(format!(
            "not JSON5: nested deeper than {MAX_NESTING} levels"
        ));
    }
    json5::from_str::<Node>(text).map_err(|e| format!("not JSON5: {e}"))
}

/// Deepest nesting accepted in an OpenClaw config (serde_json's own limit).
const MAX_NESTING: usize = 128;

/// How deep `{`/`[` nest in JSON5 text, outside strings and comments.
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut star = false;
                for d in chars.by_ref() {
                    if star && d == '/' {
                        break;
                    }
                    star = d == '*';
                }
            }
            '{' | '[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Replace every `{"$include": …}` below `node`. `dir` is the including
/// file's folder, `root` the config's (includes may not leave it), `stack`
/// the files being read (a cycle is an error).
fn resolve_includes(
    node: Node,
    dir: &Path,
    root: &Path,
    stack: &mut Vec<PathBuf>,
    includes: &mut Vec<PathBuf>,
) -> Result<Node, String> {
    match node {
        Node::Scalar(_) => Ok(node),
        Node::Array(items) => items
            .into_iter()
            .map(|n| resolve_includes(n, dir, root, stack, includes))
            .collect::<Result<Vec<_>, _>>()
            .map(Node::Array),
        Node::Object(pairs) => {
            let mut files = None;
            let mut rest = Vec::new();
            for (k, v) in pairs {
                if k == "$include" {
                    files = Some(v);
                } else {
                    rest.push((k, resolve_includes(v, dir, root, stack, includes)?));
                }
            }
            let Some(files) = files else {
                return Ok(Node::Object(rest));
            };
            let names: Vec<String> = match files {
                Node::Scalar(Value::String(s)) => vec![s],
                Node::Array(items) => items
                    .into_iter()
                    .map(|i| match i {
                        Node::Scalar(Value::String(s)) => Ok(s),
                        _ => Err("$include: a list must hold file names".to_string()),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err("$include: must be a file name or a list of them".to_string()),
            };
            let mut merged: Option<Node> = None;
            for name in names {
                let included = include_file(&name, dir, root, stack, includes)?;
                merged = Some(match merged {
                    None => included,
                    Some(m) => m.merge(included),
                });
            }
            let merged = merged.unwrap_or(Node::Object(Vec::new()));
            // Sibling keys are merged over what the files hold.
            Ok(if rest.is_empty() {
                merged
            } else {
                merged.merge(Node::Object(rest))
            })
        }
    }
}

fn include_file(
    name: &str,
    dir: &Path,
    root: &Path,
    stack: &mut Vec<PathBuf>,
    includes: &mut Vec<PathBuf>,
) -> Result<Node, String> {
    let given = dir.join(name.trim());
    let path = given
        .canonicalize()
        .map_err(|e| format!("$include {name}: {}: {e}", given.display()))?;
    if !path.starts_with(root) {
        return Err(format!(
            "$include {name}: {} is outside the config's folder {} (refused)",
            path.display(),
            root.display()
        ));
    }
    if stack.contains(&path) {
        return Err(format!(
            "$include {name}: {} includes itself",
            path.display()
        ));
    }
    if stack.len() > MAX_INCLUDE_DEPTH {
        return Err(format!(
            "$include {name}: includes nested deeper than {MAX_INCLUDE_DEPTH}"
        ));
    }
    let text =
        read_limited(&path).map_err(|e| format!("$include {name}: {}: {e}", path.display()))?;
    let node = parse(&text).map_err(|e| format!("$include {}: {e}", path.display()))?;
    includes.push(path.clone());
    stack.push(path.clone());
    let folder = path.parent().unwrap_or(root).to_path_buf();
    let node = resolve_includes(node, &folder, root, stack, includes);
    stack.pop();
    node
}

/// `env.vars` and the plain string entries of `env` (OpenClaw accepts both).
fn config_vars(node: &Node) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(env) = node.get("env") else {
        return out;
    };
    let mut take = |n: &Node| {
        if let Node::Object(pairs) = n {
            for (k, v) in pairs {
                if let Node::Scalar(Value::String(s)) = v {
                    out.insert(k.clone(), s.clone());
                }
            }
        }
    };
    take(env);
    if let Some(vars) = env.get("vars") {
        take(vars);
    }
    out
}

/// `KEY=VALUE` lines (`export ` allowed, `#` comments, quotes stripped).
pub fn parse_dotenv(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            &v[1..v.len() - 1]
        } else {
            // An unquoted value ends at a comment.
            v.split(" #").next().unwrap_or(v).trim_end()
        };
        out.insert(k.to_string(), v.to_string());
    }
    out
}

/// OpenClaw's variable names: `[A-Z_][A-Z0-9_]*`.
fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn substitute(
    node: Node,
    env: &EnvSources,
    path: &str,
    unresolved: &mut Vec<(String, String)>,
) -> Node {
    match node {
        Node::Scalar(Value::String(s)) => {
            let (text, missing) = substitute_str(&s, env);
            for var in missing {
                unresolved.push((path.to_string(), var));
            }
            Node::Scalar(Value::String(text))
        }
        Node::Scalar(v) => Node::Scalar(v),
        Node::Array(items) => Node::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, n)| substitute(n, env, &format!("{path}[{i}]"), unresolved))
                .collect(),
        ),
        Node::Object(pairs) => Node::Object(
            pairs
                .into_iter()
                .map(|(k, v)| {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    let v = substitute(v, env, &p, unresolved);
                    (k, v)
                })
                .collect(),
        ),
    }
}

/// `${VAR}` replaced by its value; `$${VAR}` is a literal `${VAR}`; an
/// unset variable is left as written and named in the second value.
pub fn substitute_str(s: &str, env: &EnvSources) -> (String, Vec<String>) {
    let mut out = String::with_capacity(s.len());
    let mut missing = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            if let Some(end) = tail.find('}').filter(|e| is_var_name(&tail[..*e])) {
                out.push_str("${");
                out.push_str(&tail[..=end]);
                rest = &tail[end + 1..];
                continue;
            }
        }
        if let Some(tail) = after.strip_prefix("${") {
            if let Some(end) = tail.find('}').filter(|e| is_var_name(&tail[..*e])) {
                let name = &tail[..end];
                match env.get(name) {
                    Some((value, _)) => out.push_str(value),
                    None => {
                        out.push_str(&after[..end + 3]);
                        missing.push(name.to_string());
                    }
                }
                rest = &tail[end + 1..];
                continue;
            }
        }
        out.push('$');
        rest = &after[1..];
    }
    out.push_str(rest);
    (out, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_before_the_parser_recurses() {
        let deep = format!("{{a: {}{}}}", "[".repeat(60_000), "]".repeat(60_000));
        assert!(parse(&deep).unwrap_err().contains("nested deeper"));
        assert_eq!(
            nesting("{a: '[[[', /* {{{ */ b: [1, {c: \"]]\"}]} // [[["),
            3
        );
        assert!(parse("{a: [[1]]}").is_ok());
    }
    use serde_json::json;
    use std::fs;

    fn env(process: &[(&str, &str)]) -> BTreeMap<String, String> {
        process
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_from_the_environment_then_dotenv_then_env_vars() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("openclaw.json");
        fs::write(
            dir.path().join(".env"),
            "# comment\nexport B=from-dotenv\nC='quoted dotenv'\nA=dotenv-a\n",
        )
        .unwrap();
        fs::write(
            &cfg,
            r#"{
              env: { vars: { C: "config-c", D: "config-d" }, E: "inline-e" },
              x: "${A}|${B}|${C}|${D}|${E}|${F}|$${A}|${lower}|$5",
            }"#,
        )
        .unwrap();
        let src = load(&cfg, dir.path(), &env(&[("A", "process-a")])).unwrap();
        assert_eq!(
            src.doc["x"],
            "process-a|from-dotenv|quoted dotenv|config-d|inline-e|${F}|${A}|${lower}|$5"
        );
        assert_eq!(src.unresolved, vec![("x".to_string(), "F".to_string())]);
        assert_eq!(src.env.get("C"), Some(("quoted dotenv", "<home>/.env")));
        assert_eq!(src.env.get("D"), Some(("config-d", "env.vars")));
    }

    #[test]
    fn includes_are_merged_and_confined_to_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("oc");
        fs::create_dir_all(d.join("parts")).unwrap();
        fs::write(
            d.join("parts/channels.json5"),
            "{ telegram: { $include: './tg.json5', allowFrom: [2] } }",
        )
        .unwrap();
        fs::write(
            d.join("parts/tg.json5"),
            "{ botToken: 't', allowFrom: [1], accounts: { zed: {}, alpha: {} } }",
        )
        .unwrap();
        fs::write(
            d.join("openclaw.json"),
            "{ channels: { $include: 'parts/channels.json5' }, agents: { $include: ['a.json5', 'b.json5'] } }",
        )
        .unwrap();
        fs::write(d.join("a.json5"), "{ list: [1], defaults: { x: 1, y: 1 } }").unwrap();
        fs::write(d.join("b.json5"), "{ defaults: { y: 2 } }").unwrap();
        let src = load(&d.join("openclaw.json"), &d, &BTreeMap::new()).unwrap();
        assert_eq!(
            src.doc["channels"]["telegram"],
            json!({"botToken": "t", "allowFrom": [2], "accounts": {"zed": {}, "alpha": {}}})
        );
        assert_eq!(src.doc["agents"]["defaults"], json!({"x": 1, "y": 2}));
        assert_eq!(src.account_order, ["zed", "alpha"], "file order kept");
        assert_eq!(src.includes.len(), 4);

        // Outside the folder, through `..` or a link: refused.
        fs::write(dir.path().join("secret.json5"), "{}").unwrap();
        fs::write(
            d.join("openclaw.json"),
            "{ x: { $include: '../secret.json5' } }",
        )
        .unwrap();
        let err = load(&d.join("openclaw.json"), &d, &BTreeMap::new()).unwrap_err();
        assert!(
            matches!(&err, LoadError::Broken(e) if e.contains("outside the config's folder")),
            "{err:?}"
        );
        std::os::unix::fs::symlink(dir.path().join("secret.json5"), d.join("link.json5")).unwrap();
        fs::write(d.join("openclaw.json"), "{ x: { $include: 'link.json5' } }").unwrap();
        assert!(load(&d.join("openclaw.json"), &d, &BTreeMap::new()).is_err());
        // A cycle, a missing file: errors, not a hang or a crash.
        fs::write(
            d.join("openclaw.json"),
            "{ x: { $include: 'openclaw.json' } }",
        )
        .unwrap();
        let err = load(&d.join("openclaw.json"), &d, &BTreeMap::new()).unwrap_err();
        assert!(
            matches!(&err, LoadError::Broken(e) if e.contains("includes itself")),
            "{err:?}"
        );
        fs::write(d.join("openclaw.json"), "{ x: { $include: 'nope.json5' } }").unwrap();
        assert!(load(&d.join("openclaw.json"), &d, &BTreeMap::new()).is_err());
    }

    #[test]
    fn missing_and_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("openclaw.json");
        assert_eq!(
            load(&p, dir.path(), &BTreeMap::new()).unwrap_err(),
            LoadError::Missing
        );
        fs::write(&p, "{ not: json5: at all").unwrap();
        assert!(matches!(
            load(&p, dir.path(), &BTreeMap::new()).unwrap_err(),
            LoadError::Broken(_)
        ));
    }
}
