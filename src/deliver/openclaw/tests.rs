//! The OpenClaw config shapes of 2026 (OPENCLAW.md §2), each read the way
//! SPEC §7 says: account, target and where it came from, token and where
//! it came from.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::*;

/// A temp OpenClaw home holding `openclaw.json` with `text`.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(text: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("openclaw.json"), text).unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        self
    }

    fn source(&self, process: &[(&str, &str)]) -> Source {
        let env: BTreeMap<String, String> = process
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match load(&self.path().join("openclaw.json"), self.path(), &env) {
            Loaded::Doc(s) => *s,
            other => panic!("not loaded: {other:?}"),
        }
    }

    fn settings(&self, process: &[(&str, &str)], account: Option<&str>) -> Settings {
        let source = self.source(process);
        resolve(&Inputs {
            source: Some(&source),
            env: &EnvSources::default(),
            target_override: None,
            channel_target: None,
            channel_account: account,
        })
    }
}

fn target(s: &Settings) -> (&str, &str) {
    let (t, from) = s.target.as_ref().expect("a target");
    (t.as_str(), from.as_str())
}

fn token(s: &Settings) -> (&str, &str) {
    match &s.token {
        Token::Found { value, source } => (value.as_str(), source.as_str()),
        Token::Missing { why } => panic!("no token: {why}"),
    }
}

fn no_token(s: &Settings) -> String {
    match &s.token {
        Token::Missing { why } => why.clone(),
        Token::Found { source, .. } => panic!("a token from {source}"),
    }
}

#[test]
fn targets_parse_with_prefixes_and_topics() {
    let t = |raw: &str| Target::parse(raw).map(|t| (t.chat, t.thread, t.general_topic));
    assert_eq!(t("123"), Some(("123".into(), None, false)));
    assert_eq!(
        t(" tg:444 "),
        Some(("444".into(), None, false)),
        "not chat tg, thread 444"
    );
    assert_eq!(t("Telegram:-100123"), Some(("-100123".into(), None, false)));
    assert_eq!(
        t("12345678:topic:42"),
        Some(("12345678".into(), Some(42), false))
    );
    assert_eq!(
        t("telegram:-1001:topic:7"),
        Some(("-1001".into(), Some(7), false))
    );
    assert_eq!(t("-100123:45"), Some(("-100123".into(), Some(45), false)));
    assert_eq!(
        t("-100123:topic:1"),
        Some(("-100123".into(), None, true)),
        "General topic"
    );
    assert_eq!(t("-100123:1"), Some(("-100123".into(), None, true)));
    assert_eq!(t("@chan"), Some(("@chan".into(), None, false)));
    assert_eq!(t("*"), None);
    assert_eq!(t("tg:"), None);
    assert_eq!(t("1:topic:x"), None);
    assert_eq!(t(":5"), Some((":5".into(), None, false)));
}

/// Until 2026-07: `agents.list`, the default agent's heartbeat to Telegram.
#[test]
fn shape_agents_list_heartbeat_telegram() {
    let h = Home::new(
        r#"{
          // the gateway's agents
          agents: { list: [
            { id: "helper", heartbeat: { target: "telegram", to: "111" } },
            { id: "main", heartbeat: { target: "telegram", to: -100222, }, },
          ], },
          /* channels */
          channels: { telegram: { allowFrom: [333,], botToken: "t1", }, },
        }"#,
    );
    let s = h.settings(&[], None);
    assert_eq!(target(&s), ("-100222", "agents.list[1].heartbeat.to"));
    assert_eq!(token(&s), ("t1", "botToken (channels.telegram.botToken)"));
    assert_eq!(s.account.id, None);
    // `default: true` makes an agent the default, whatever its name.
    let h = Home::new(
        r#"{ agents: { list: [
            { id: "main", heartbeat: { target: "telegram", to: "1" } },
            { id: "ops", default: true, heartbeat: { target: "telegram", to: "2" } } ] } }"#,
    );
    assert_eq!(target(&h.settings(&[], None)).0, "2");
    // Else agents.defaults.systemAgent.agentId, else main, else the first.
    let h = Home::new(
        r#"{ agents: { defaults: { systemAgent: { agentId: "b" } }, list: [
            { id: "a", heartbeat: { target: "telegram", to: "1" } },
            { id: "b", heartbeat: { target: "telegram", to: "2" } } ] } }"#,
    );
    assert_eq!(target(&h.settings(&[], None)).0, "2");
    let h = Home::new(
        r#"{ agents: { list: [ { id: "x", heartbeat: { target: "telegram", to: "9" } } ] } }"#,
    );
    assert_eq!(target(&h.settings(&[], None)).0, "9");
}

/// From 2026-07-22: `agents.entries` merged over `agents.defaults.heartbeat`;
/// `target: "owner"` sends to `commands.ownerAllowFrom`.
#[test]
fn shape_agents_entries_with_defaults_and_owner() {
    let h = Home::new(
        r#"{
          commands: { ownerAllowFrom: ["discord:99", "telegram:123456789"] },
          agents: {
            defaults: { heartbeat: { target: "owner", every: "30m" } },
            entries: { main: { default: true, heartbeat: { every: "1h" } } },
          },
          channels: { telegram: { botToken: "t", allowFrom: ["555"] } },
        }"#,
    );
    let s = h.settings(&[], None);
    assert_eq!(
        target(&s),
        ("telegram:123456789", "commands.ownerAllowFrom[1]")
    );
    assert!(
        s.looked
            .iter()
            .any(|l| l.contains("agents.entries.main") && l.contains("\"owner\"")),
        "{:?}",
        s.looked
    );
    // An entry's own target telegram overrides the defaults' owner.
    let h = Home::new(
        r#"{
          agents: {
            defaults: { heartbeat: { target: "owner", to: "777" } },
            entries: { ops: { default: true, heartbeat: { target: "telegram" } } },
          },
        }"#,
    );
    assert_eq!(
        target(&h.settings(&[], None)),
        ("777", "agents.defaults.heartbeat.to")
    );
    // No agents at all: the defaults' heartbeat alone.
    let h = Home::new(
        r#"{ agents: { defaults: { heartbeat: { target: "telegram", to: "tg:42" } } } }"#,
    );
    assert_eq!(target(&h.settings(&[], None)).0, "tg:42");
}

/// Multi-account: `defaultAccount`, else `accounts.default`, else the first.
#[test]
fn shape_accounts_with_default_account() {
    let text = r#"{
      channels: { telegram: {
        defaultAccount: "ops-bot",
        botToken: "top",
        allowFrom: ["1"],
        accounts: {
          "chat-bot": { botToken: "chat", allowFrom: ["2"] },
          "ops-bot": { botToken: "ops", defaultTo: "3", apiRoot: "http://api.local/", proxy: "socks5://127.0.0.1:9050" },
        },
      } },
    }"#;
    let h = Home::new(text);
    let s = h.settings(&[("TELEGRAM_BOT_TOKEN", "env")], None);
    assert_eq!(s.account.id.as_deref(), Some("ops-bot"));
    assert_eq!(s.account.why, "channels.telegram.defaultAccount");
    assert_eq!(token(&s).0, "ops");
    assert_eq!(
        target(&s),
        ("3", "channels.telegram.accounts.ops-bot.defaultTo")
    );
    assert_eq!(s.api_root.as_deref(), Some("http://api.local"));
    assert_eq!(s.proxy.as_deref(), Some("socks5://127.0.0.1:9050"));
    // The channel names the other account: its token and its allowFrom.
    let s = h.settings(&[("TELEGRAM_BOT_TOKEN", "env")], Some("chat-bot"));
    assert_eq!(
        (s.account.id.as_deref(), token(&s).0),
        (Some("chat-bot"), "chat")
    );
    assert_eq!(
        target(&s),
        ("2", "channels.telegram.accounts.chat-bot.allowFrom[0]")
    );
    assert!(!s.account.is_default);
    // An account that does not exist: no token, and it says why.
    let s = h.settings(&[], Some("nope"));
    assert!(no_token(&s).contains("\"nope\""));

    // No defaultAccount: accounts.default, else the first in file order.
    let h = Home::new(
        r#"{ channels: { telegram: { accounts: { zz: { botToken: "z" }, aa: { botToken: "a" } } } } }"#,
    );
    let s = h.settings(&[], None);
    assert_eq!((s.account.id.as_deref(), token(&s).0), (Some("zz"), "z"));
    assert_eq!(s.account.why, "the first of channels.telegram.accounts");
    let h = Home::new(
        r#"{ channels: { telegram: { accounts: { zz: {}, default: { botToken: "d" } } } } }"#,
    );
    assert_eq!(token(&h.settings(&[], None)).0, "d");
    // The environment's token serves the default account only.
    let h = Home::new(r#"{ channels: { telegram: { accounts: { main: {}, other: {} } } } }"#);
    let s = h.settings(&[("TELEGRAM_BOT_TOKEN", "env")], None);
    assert_eq!(
        token(&s),
        ("env", "env TELEGRAM_BOT_TOKEN (from the environment)")
    );
    let s = h.settings(&[("TELEGRAM_BOT_TOKEN", "env")], Some("other"));
    assert!(no_token(&s).contains("only the default account"));
}

/// `tokenFile` beats `botToken` (OpenClaw's order); one set but unusable
/// gives no token at all.
#[test]
fn shape_token_file_beside_bot_token() {
    let h =
        Home::new(r#"{ channels: { telegram: { tokenFile: "secrets/tg", botToken: "inline" } } }"#);
    h.write("secrets/tg", "  from-file\n");
    let s = h.settings(&[], None);
    let (value, from) = token(&s);
    assert_eq!(value, "from-file");
    assert!(
        from.starts_with("tokenFile ")
            && from.ends_with("secrets/tg (channels.telegram.tokenFile)"),
        "{from}"
    );

    // Missing, a symlink, a FIFO, empty: no token, no fallback to botToken or the env.
    fs::remove_file(h.path().join("secrets/tg")).unwrap();
    assert!(
        no_token(&h.settings(&[("TELEGRAM_BOT_TOKEN", "env")], None))
            .contains("no token, as in OpenClaw")
    );
    h.write("real", "tok");
    std::os::unix::fs::symlink(h.path().join("real"), h.path().join("secrets/tg")).unwrap();
    assert!(no_token(&h.settings(&[], None)).contains("symbolic link"));
    fs::remove_file(h.path().join("secrets/tg")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(h.path().join("secrets/tg"))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(no_token(&h.settings(&[], None)).contains("not a regular file"));
    fs::remove_file(h.path().join("secrets/tg")).unwrap();
    h.write("secrets/tg", " \n");
    assert!(no_token(&h.settings(&[], None)).contains("is empty"));
    // Only the first 4 KiB are read.
    h.write("secrets/tg", &"x".repeat(5000));
    assert_eq!(token(&h.settings(&[], None)).0.len(), 4096);
    // The account's tokenFile comes before the channel's.
    let h = Home::new(
        r#"{ channels: { telegram: { tokenFile: "chan", accounts: { a: { tokenFile: "acct", botToken: "x" } } } } }"#,
    );
    h.write("chan", "c").write("acct", "a");
    assert_eq!(token(&h.settings(&[], None)).0, "a");
}

/// `${TELEGRAM_BOT_TOKEN}` with its value in `<home>/.env`; a SecretRef.
#[test]
fn shape_variable_token_from_dotenv_and_secret_refs() {
    let h = Home::new(
        r#"{ channels: { telegram: { botToken: "${TELEGRAM_BOT_TOKEN}", allowFrom: [1] } } }"#,
    );
    h.write(".env", "TELEGRAM_BOT_TOKEN=from-dotenv\n");
    let s = h.settings(&[], None);
    assert_eq!(
        token(&s),
        (
            "from-dotenv",
            "botToken (channels.telegram.botToken, ${TELEGRAM_BOT_TOKEN} from <home>/.env)"
        )
    );
    // The process environment wins over .env.
    assert_eq!(
        token(&h.settings(&[("TELEGRAM_BOT_TOKEN", "proc")], None)).0,
        "proc"
    );
    // Unset everywhere: no token, and never the literal `${…}`.
    fs::remove_file(h.path().join(".env")).unwrap();
    assert!(no_token(&h.settings(&[], None)).contains("${TELEGRAM_BOT_TOKEN}"));

    let h = Home::new(
        r#"{ env: { vars: { OPS_TG: "from-vars" } },
             channels: { telegram: { botToken: { source: "env", provider: "default", id: "OPS_TG" } } } }"#,
    );
    let s = h.settings(&[], None);
    assert_eq!(token(&s).0, "from-vars");
    assert!(token(&s).1.contains("SecretRef env OPS_TG from env.vars"));
    let h = Home::new(
        r#"{ channels: { telegram: { botToken: { source: "file", provider: "vault", id: "/tg" } } } }"#,
    );
    assert!(no_token(&h.settings(&[("TELEGRAM_BOT_TOKEN", "env")], None)).contains("openclaw CLI"));
}

/// `channels` moved into an `$include` file.
#[test]
fn shape_channels_in_an_include() {
    let h = Home::new(r#"{ channels: { $include: "./channels.json5" } }"#);
    h.write(
        "channels.json5",
        r#"{ telegram: { botToken: "inc", allowFrom: ["tg:444", "*"] } }"#,
    );
    let src = h.source(&[]);
    assert_eq!(
        src.includes,
        vec![h.path().canonicalize().unwrap().join("channels.json5")]
    );
    let s = h.settings(&[], None);
    assert_eq!(token(&s).0, "inc");
    assert_eq!(target(&s), ("tg:444", "channels.telegram.allowFrom[0]"));
    assert_eq!(Target::parse(target(&s).0).unwrap().chat, "444");
}

/// `allowFrom: ["*", "@name", "tg:…"]`: the wildcard and names are skipped.
#[test]
fn shape_allow_from_with_wildcard_and_names() {
    let h = Home::new(
        r#"{ channels: { telegram: { allowFrom: ["*", "@ops", "telegram:987", 42] } } }"#,
    );
    assert_eq!(
        target(&h.settings(&[], None)),
        ("telegram:987", "channels.telegram.allowFrom[2]")
    );
    let h = Home::new(r#"{ channels: { telegram: { allowFrom: ["@ops", "*"] } } }"#);
    let s = h.settings(&[], None);
    assert!(s.target.is_none());
    assert!(
        s.looked.last().unwrap().contains("skipped"),
        "{:?}",
        s.looked
    );
}

/// A forum topic written by OpenClaw into `heartbeat.to`.
#[test]
fn shape_topic_target() {
    let h = Home::new(
        r#"{ agents: { list: [ { id: "main", heartbeat: { target: "telegram", to: "12345678:topic:42" } } ] } }"#,
    );
    let s = h.settings(&[], None);
    assert_eq!(
        Target::parse(target(&s).0),
        Some(Target {
            chat: "12345678".into(),
            thread: Some(42),
            general_topic: false
        })
    );
}

/// `defaultTo`: the account's, then the channel's, before `allowFrom`.
#[test]
fn shape_default_to() {
    let h = Home::new(r#"{ channels: { telegram: { defaultTo: 1234, allowFrom: [1] } } }"#);
    assert_eq!(
        target(&h.settings(&[], None)),
        ("1234", "channels.telegram.defaultTo")
    );
}

/// From 2026.9 `openclaw doctor --fix` removes heartbeats: no heartbeat at
/// all, and no other target either — the places looked at are listed.
#[test]
fn shape_no_heartbeat_at_all() {
    let h = Home::new(
        r#"{ agents: { entries: { main: { default: true } } }, channels: { telegram: { botToken: "t" } } }"#,
    );
    let s = h.settings(&[], None);
    assert!(s.target.is_none());
    assert_eq!(
        s.looked,
        [
            "--target (not given)",
            "the channel's target in defaults.notify (none)",
            "the default agent's heartbeat (agents.entries.main) (none)",
            "channels.telegram.defaultTo (not set)",
            "commands.ownerAllowFrom (not set)",
            "channels.telegram.allowFrom (not set)",
        ]
    );
}

#[test]
fn overrides_win_in_order() {
    let h = Home::new(r#"{ channels: { telegram: { defaultTo: 1 } } }"#);
    let source = h.source(&[]);
    let with = |over: Option<&str>, chan: Option<&str>| {
        resolve(&Inputs {
            source: Some(&source),
            env: &EnvSources::default(),
            target_override: over,
            channel_target: chan,
            channel_account: None,
        })
        .target
        .unwrap()
    };
    assert_eq!(
        with(Some("-5"), Some("6")),
        ("-5".into(), "--target".into())
    );
    assert_eq!(
        with(None, Some("@chan")).0,
        "@chan",
        "an explicit @name is used"
    );
    assert_eq!(with(Some(" "), None).0, "1");
}

#[test]
fn without_a_config_only_the_environment() {
    let env = EnvSources {
        process: [("TELEGRAM_BOT_TOKEN".to_string(), "e".to_string())].into(),
        ..Default::default()
    };
    let s = resolve(&Inputs {
        source: None,
        env: &env,
        target_override: Some("5"),
        channel_target: None,
        channel_account: None,
    });
    assert_eq!(s.token.value(), Some("e"));
    assert_eq!(s.target.unwrap().0, "5");
}
