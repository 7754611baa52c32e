//! Where the files are (SPEC §1): the OpenClaw home folder and the rule that
//! chose it, the job config, the state, and OpenClaw's own config — plus `~`
//! expansion for every path the user gives.
//!
//! Two meanings of `$OPENCLAW_HOME` are in use (OpenClaw's: the user's home
//! folder, the state folder being `$OPENCLAW_HOME/.openclaw`; the Python
//! version's: the state folder itself), so the home is picked by an ordered
//! list of rules, and a folder that already holds an ops-monitor state keeps
//! being used (§11 "The home folder is sticky"). The choice records its rule
//! so that `doctor` can say why.
//!
//! The resolution reads the environment through [`Env`], a snapshot, so the
//! rules can be tested with temporary `HOME`s without touching the process
//! environment; it looks at the file system only to test whether folders exist.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The environment the paths are resolved from: the variables that matter
/// and the user's home folder.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    /// `$HOME`, else what the OS says.
    pub user_home: PathBuf,
}

/// The variables that decide a path (read once from the process).
const VARS: &[&str] = &[
    "OPENCLAW_STATE_DIR",
    "CLAWDBOT_STATE_DIR",
    "OPENCLAW_HOME",
    "OPENCLAW_PROFILE",
    "OPENCLAW_CONFIG_PATH",
    "CLAWDBOT_CONFIG_PATH",
];

impl Env {
    /// The process environment.
    pub fn from_process() -> Env {
        let vars = VARS
            .iter()
            .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
            .collect();
        Env {
            vars,
            user_home: home_dir(),
        }
    }

    /// An environment with these variables and this `$HOME` (for tests).
    #[cfg(test)]
    pub fn with(user_home: &Path, vars: &[(&str, &str)]) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            user_home: user_home.to_path_buf(),
        }
    }

    /// A variable's value, trimmed; empty counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// `~` and `~/…` against this environment's home; `~user/…` against
    /// that user's home (from the password database); anything else as is.
    pub fn expand(&self, path: &str) -> PathBuf {
        expand_with(path, &self.user_home)
    }

    /// `$OPENCLAW_HOME` as a path (`~` expanded), when set.
    fn openclaw_home(&self) -> Option<PathBuf> {
        self.get("OPENCLAW_HOME").map(|h| self.expand(h))
    }

    /// `$OPENCLAW_PROFILE`, when set to a usable folder suffix.
    fn profile(&self) -> Option<&str> {
        self.get("OPENCLAW_PROFILE")
            .filter(|p| !p.contains('/') && *p != "." && *p != "..")
    }
}

/// `~` or `~/…` at the start of a path the user gave becomes their home;
/// `~user/…` that user's home.
pub fn expand_tilde(path: &str) -> PathBuf {
    expand_with(path, &home_dir())
}

fn expand_with(path: &str, home: &Path) -> PathBuf {
    let Some(rest) = path.strip_prefix('~') else {
        return PathBuf::from(path);
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i + 1..].trim_start_matches('/')),
        None => (rest, ""),
    };
    let base = if user.is_empty() {
        Some(home.to_path_buf())
    } else {
        user_home(user)
    };
    match base {
        Some(b) if tail.is_empty() => b,
        Some(b) => b.join(tail),
        // An unknown user: the path means what it says, as the shell leaves it.
        None => PathBuf::from(path),
    }
}

/// A user's home folder from `/etc/passwd` (no NSS: enough for the local
/// accounts a cron job runs as).
fn user_home(name: &str) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[0] == name && !fields[5].is_empty())
            .then(|| PathBuf::from(fields[5]))
    })
}

/// The user's home folder: `$HOME`, else what the OS says.
pub fn home_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => directories::BaseDirs::new()
            .map(|b| b.home_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from("/")),
    }
}

/// The rule of SPEC §1 that chose the home folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// 1: `$OPENCLAW_STATE_DIR` (or the legacy variable named).
    StateDir(&'static str),
    /// 2: `$OPENCLAW_HOME/.openclaw-<profile>`.
    HomeProfile(String),
    /// 2: `$OPENCLAW_HOME/.openclaw` (OpenClaw's meaning of the variable).
    HomeDotOpenclaw,
    /// 3: `$OPENCLAW_HOME` itself (the Python version's meaning).
    HomeItself,
    /// 4: `~/.openclaw-<profile>`.
    Profile(String),
    /// 5: `~/.openclaw`, or a legacy folder (`~/.clawdbot`, …) that exists.
    Default,
}

impl Rule {
    /// The rule's number in SPEC §1.
    pub fn number(&self) -> u8 {
        match self {
            Rule::StateDir(_) => 1,
            Rule::HomeProfile(_) | Rule::HomeDotOpenclaw => 2,
            Rule::HomeItself => 3,
            Rule::Profile(_) => 4,
            Rule::Default => 5,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.number();
        match self {
            Rule::StateDir(var) => write!(f, "rule {n}: ${var}"),
            Rule::HomeProfile(p) => write!(
                f,
                "rule {n}: $OPENCLAW_HOME/.openclaw-{p} ($OPENCLAW_PROFILE, OpenClaw's meaning of $OPENCLAW_HOME)"
            ),
            Rule::HomeDotOpenclaw => write!(
                f,
                "rule {n}: $OPENCLAW_HOME/.openclaw (OpenClaw's meaning of $OPENCLAW_HOME)"
            ),
            Rule::HomeItself => write!(
                f,
                "rule {n}: $OPENCLAW_HOME itself (the Python version's meaning)"
            ),
            Rule::Profile(p) => write!(f, "rule {n}: ~/.openclaw-{p} ($OPENCLAW_PROFILE)"),
            Rule::Default => write!(
                f,
                "rule {n}: ~/.openclaw, else the first of ~/.clawdbot, ~/.moldbot, ~/.moltbot that exists"
            ),
        }
    }
}

/// The home folder, the rule that chose it, and what `doctor` should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub dir: PathBuf,
    pub rule: Rule,
    /// The folder the rules alone would have chosen, when an existing
    /// ops-monitor state elsewhere kept the home where it was (§11).
    pub sticky_over: Option<PathBuf>,
    /// Every candidate folder that holds ops-monitor files (config or state),
    /// in rule order; more than one deserves a warning.
    pub with_files: Vec<PathBuf>,
}

/// The folders ops-monitor keeps its files in under a home.
pub fn default_config(home: &Path) -> PathBuf {
    home.join("net").join("config").join("ops-jobs.json")
}

pub fn default_state(home: &Path) -> PathBuf {
    home.join("net").join("state").join("ops-monitor.json")
}

fn holds_state(dir: &Path) -> bool {
    default_state(dir).is_file()
}

fn holds_files(dir: &Path) -> bool {
    holds_state(dir) || default_config(dir).is_file()
}

/// The OpenClaw state folders ops-monitor also recognises, after `.openclaw`.
const LEGACY_FOLDERS: &[&str] = &[".clawdbot", ".moldbot", ".moltbot"];

/// Pick the home folder by the rules of SPEC §1, first match wins — except
/// that the first candidate folder already holding an ops-monitor state is
/// kept (§11).
pub fn resolve_home(env: &Env) -> Home {
    // Every candidate in rule order: (rule, folder, whether the rule matches).
    let mut candidates: Vec<(Rule, PathBuf, bool)> = Vec::new();
    for var in ["OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR"] {
        if let Some(dir) = env.get(var) {
            candidates.push((Rule::StateDir(var), env.expand(dir), true));
            break;
        }
    }
    if let Some(oh) = env.openclaw_home() {
        if let Some(p) = env.profile() {
            let dir = oh.join(format!(".openclaw-{p}"));
            let matches = dir.is_dir();
            candidates.push((Rule::HomeProfile(p.to_string()), dir, matches));
        }
        let dir = oh.join(".openclaw");
        // A Python-era layout under $OPENCLAW_HOME keeps its files.
        let matches = dir.is_dir() && !oh.join("net").exists();
        candidates.push((Rule::HomeDotOpenclaw, dir, matches));
        candidates.push((Rule::HomeItself, oh, true));
    }
    if let Some(p) = env.profile() {
        let dir = env.user_home.join(format!(".openclaw-{p}"));
        candidates.push((Rule::Profile(p.to_string()), dir, true));
    }
    // Rule 5: ~/.openclaw, else the first legacy folder that exists. Every
    // existing legacy folder stays a candidate, so a state in one keeps
    // the home there when ~/.openclaw appears later (§11: sticky).
    let dot = env.user_home.join(".openclaw");
    let legacy: Vec<PathBuf> = LEGACY_FOLDERS
        .iter()
        .map(|name| env.user_home.join(name))
        .filter(|d| d.is_dir())
        .collect();
    let dot_first = dot.is_dir() || legacy.is_empty();
    if dot_first {
        candidates.push((Rule::Default, dot.clone(), true));
    }
    for (i, old) in legacy.into_iter().enumerate() {
        candidates.push((Rule::Default, old, !dot_first && i == 0));
    }
    if !dot_first {
        candidates.push((Rule::Default, dot, false));
    }

    let (rule, dir, _) = candidates
        .iter()
        .find(|(_, _, matches)| *matches)
        .cloned()
        .expect("the default rule always matches");
    let mut with_files: Vec<PathBuf> = Vec::new();
    for (_, d, _) in &candidates {
        if holds_files(d) && !with_files.contains(d) {
            with_files.push(d.clone());
        }
    }
    if !holds_state(&dir) {
        if let Some((r, d, _)) = candidates.iter().find(|(_, d, _)| holds_state(d)) {
            return Home {
                dir: d.clone(),
                rule: r.clone(),
                sticky_over: Some(dir),
                with_files,
            };
        }
    }
    Home {
        dir,
        rule,
        sticky_over: None,
        with_files,
    }
}

/// Where the OpenClaw config was looked for and what was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenclawConfigPath {
    pub path: PathBuf,
    /// Why this path: `$OPENCLAW_CONFIG_PATH`, `<home>/openclaw.json`, a
    /// legacy name, or that none exists (then `path` is `<home>/openclaw.json`).
    pub why: String,
}

/// The OpenClaw config names looked for in the home, in order.
const CONFIG_NAMES: &[&str] = &[
    "openclaw.json",
    "clawdbot.json",
    "moldbot.json",
    "moltbot.json",
];

/// `$OPENCLAW_CONFIG_PATH` (legacy `$CLAWDBOT_CONFIG_PATH`; a leading `~`
/// means `$OPENCLAW_HOME` when set, as OpenClaw reads it), else the first of
/// `openclaw.json` and the legacy names in the home that exists.
pub fn resolve_openclaw_config(env: &Env, home: &Path) -> OpenclawConfigPath {
    for var in ["OPENCLAW_CONFIG_PATH", "CLAWDBOT_CONFIG_PATH"] {
        if let Some(p) = env.get(var) {
            let base = env.openclaw_home().unwrap_or_else(|| env.user_home.clone());
            return OpenclawConfigPath {
                path: expand_with(p, &base),
                why: format!("${var}"),
            };
        }
    }
    for name in CONFIG_NAMES {
        let path = home.join(name);
        if path.is_file() {
            return OpenclawConfigPath {
                path,
                why: format!("<home>/{name}"),
            };
        }
    }
    OpenclawConfigPath {
        path: home.join(CONFIG_NAMES[0]),
        why:
            "none found: looked for <home>/openclaw.json, clawdbot.json, moldbot.json, moltbot.json"
                .to_string(),
    }
}

/// The files one command works on, from the options, the environment and
/// the defaults (SPEC §1).
#[derive(Debug, Clone)]
pub struct Files {
    pub home: PathBuf,
    pub config: PathBuf,
    pub state: PathBuf,
    pub openclaw_config: PathBuf,
    /// How the home was chosen.
    pub home_choice: Home,
    /// How the OpenClaw config was chosen.
    pub openclaw_choice: OpenclawConfigPath,
    /// Where each of `config` and `state` came from: an option or variable, or the default.
    pub config_from: &'static str,
    pub state_from: &'static str,
    /// The user's home folder (`~`), where the `openclaw` CLI's installers put it.
    pub user_home: PathBuf,
}

impl Files {
    pub fn resolve(config_file: Option<&str>, state_file: Option<&str>) -> Files {
        Files::resolve_in(&Env::from_process(), config_file, state_file)
    }

    pub fn resolve_in(env: &Env, config_file: Option<&str>, state_file: Option<&str>) -> Files {
        let home_choice = resolve_home(env);
        let home = home_choice.dir.clone();
        let pick = |given: Option<&str>, default: PathBuf| match given {
            Some(p) if !p.trim().is_empty() => (
                env.expand(p.trim()),
                "--config-file/--state-file or its variable",
            ),
            _ => (default, "default"),
        };
        let (config, config_from) = pick(config_file, default_config(&home));
        let (state, state_from) = pick(state_file, default_state(&home));
        let openclaw_choice = resolve_openclaw_config(env, &home);
        Files {
            config,
            state,
            openclaw_config: openclaw_choice.path.clone(),
            home,
            home_choice,
            openclaw_choice,
            config_from,
            state_from,
            user_home: env.user_home.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn tilde_only_at_the_start() {
        assert_eq!(expand_tilde("/a/~/b"), PathBuf::from("/a/~/b"));
        assert_eq!(expand_tilde("~/x"), home_dir().join("x"));
        assert_eq!(expand_tilde("~"), home_dir());
        assert_eq!(
            expand_tilde("~no-such-user-here/x"),
            PathBuf::from("~no-such-user-here/x")
        );
    }

    #[test]
    fn tilde_user_is_that_users_home() {
        // root is in every /etc/passwd this runs on.
        let root = user_home("root").expect("root has a home");
        assert_eq!(expand_with("~root/x", Path::new("/h")), root.join("x"));
        assert_eq!(expand_with("~root", Path::new("/h")), root);
        assert_eq!(expand_with("~/a", Path::new("/h")), PathBuf::from("/h/a"));
    }

    /// A temporary `$HOME` and an `$OPENCLAW_HOME` beside it.
    struct Tmp {
        dir: tempfile::TempDir,
    }

    impl Tmp {
        fn new() -> Tmp {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir_all(dir.path().join("home")).unwrap();
            fs::create_dir_all(dir.path().join("oc")).unwrap();
            Tmp { dir }
        }
        fn p(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }
        fn mkdir(&self, rel: &str) {
            fs::create_dir_all(self.p(rel)).unwrap();
        }
        fn state_in(&self, rel: &str) {
            let s = default_state(&self.p(rel));
            fs::create_dir_all(s.parent().unwrap()).unwrap();
            fs::write(s, "{}").unwrap();
        }
        fn env(&self, vars: &[(&str, &str)]) -> Env {
            Env::with(&self.p("home"), vars)
        }
        fn oc(&self) -> String {
            self.p("oc").display().to_string()
        }
    }

    #[test]
    fn rule_1_state_dir_wins() {
        let t = Tmp::new();
        t.mkdir("oc/.openclaw");
        let sd = t.p("sd").display().to_string();
        let h = resolve_home(&t.env(&[("OPENCLAW_STATE_DIR", &sd), ("OPENCLAW_HOME", &t.oc())]));
        assert_eq!(
            (h.dir, h.rule),
            (t.p("sd"), Rule::StateDir("OPENCLAW_STATE_DIR"))
        );
        let h = resolve_home(&t.env(&[("CLAWDBOT_STATE_DIR", &sd)]));
        assert_eq!(
            (h.dir, h.rule),
            (t.p("sd"), Rule::StateDir("CLAWDBOT_STATE_DIR"))
        );
        // `~` in the variable means $HOME.
        let h = resolve_home(&t.env(&[("OPENCLAW_STATE_DIR", "~/state")]));
        assert_eq!(h.dir, t.p("home/state"));
    }

    #[test]
    fn rule_2_openclaw_meaning_when_dot_openclaw_exists() {
        let t = Tmp::new();
        let oc = t.oc();
        t.mkdir("oc/.openclaw");
        let h = resolve_home(&t.env(&[("OPENCLAW_HOME", &oc)]));
        assert_eq!(
            (h.dir, h.rule),
            (t.p("oc/.openclaw"), Rule::HomeDotOpenclaw)
        );
        // With a profile whose folder exists.
        t.mkdir("oc/.openclaw-work");
        let h = resolve_home(&t.env(&[("OPENCLAW_HOME", &oc), ("OPENCLAW_PROFILE", "work")]));
        assert_eq!(
            (h.dir, h.rule),
            (t.p("oc/.openclaw-work"), Rule::HomeProfile("work".into()))
        );
        // A profile whose folder does not exist: the plain .openclaw.
        let h = resolve_home(&t.env(&[("OPENCLAW_HOME", &oc), ("OPENCLAW_PROFILE", "none")]));
        assert_eq!(h.dir, t.p("oc/.openclaw"));
    }

    #[test]
    fn rule_3_python_layout_keeps_its_files() {
        let t = Tmp::new();
        let oc = t.oc();
        // No .openclaw under it: the Python meaning.
        let h = resolve_home(&t.env(&[("OPENCLAW_HOME", &oc)]));
        assert_eq!((h.dir, h.rule), (t.p("oc"), Rule::HomeItself));
        // .openclaw exists but so does $OPENCLAW_HOME/net: still the Python meaning.
        t.mkdir("oc/.openclaw");
        t.mkdir("oc/net");
        let h = resolve_home(&t.env(&[("OPENCLAW_HOME", &oc)]));
        assert_eq!((h.dir, h.rule), (t.p("oc"), Rule::HomeItself));
    }

    #[test]
    fn rule_4_profile_under_home() {
        let t = Tmp::new();
        let h = resolve_home(&t.env(&[("OPENCLAW_PROFILE", "work")]));
        assert_eq!(
            (h.dir, h.rule),
            (t.p("home/.openclaw-work"), Rule::Profile("work".into()))
        );
        // A profile that is not a folder name is ignored.
        let h = resolve_home(&t.env(&[("OPENCLAW_PROFILE", "../x")]));
        assert_eq!(h.dir, t.p("home/.openclaw"));
    }

    #[test]
    fn rule_5_dot_openclaw_else_a_legacy_folder() {
        let t = Tmp::new();
        let h = resolve_home(&t.env(&[]));
        assert_eq!((h.dir, h.rule), (t.p("home/.openclaw"), Rule::Default));
        t.mkdir("home/.moltbot");
        t.mkdir("home/.moldbot");
        let h = resolve_home(&t.env(&[]));
        assert_eq!(
            h.dir,
            t.p("home/.moldbot"),
            "the first legacy folder that exists"
        );
        t.mkdir("home/.openclaw");
        let h = resolve_home(&t.env(&[]));
        assert_eq!(h.dir, t.p("home/.openclaw"));
        // Empty variables count as unset.
        let h = resolve_home(&t.env(&[("OPENCLAW_HOME", " "), ("OPENCLAW_STATE_DIR", "")]));
        assert_eq!(h.dir, t.p("home/.openclaw"));
        // But a legacy folder holding the state a legacy folder holds the state: stays the home even
        // with ~/.openclaw there, and the choice says what it was kept over.
        t.state_in("home/.moltbot");
        let h = resolve_home(&t.env(&[]));
        assert_eq!(h.dir, t.p("home/.moltbot"));
        assert_eq!(h.sticky_over, Some(t.p("home/.openclaw")));
        assert_eq!(h.with_files, vec![t.p("home/.moltbot")]);
    }

    #[test]
    fn a_folder_holding_a_state_is_sticky() {
        // A state in ~/.openclaw, then $OPENCLAW_PROFILE is set: rule 4
        // would now match, the state keeps its folder.
        let t = Tmp::new();
        t.state_in("home/.openclaw");
        let h = resolve_home(&t.env(&[("OPENCLAW_PROFILE", "work")]));
        assert_eq!(h.dir, t.p("home/.openclaw"));
        assert_eq!(h.sticky_over, Some(t.p("home/.openclaw-work")));
        // A config alone does not make a folder sticky.
        let t = Tmp::new();
        let cfg = default_config(&t.p("home/.openclaw"));
        fs::create_dir_all(cfg.parent().unwrap()).unwrap();
        fs::write(&cfg, "{}").unwrap();
        let h = resolve_home(&t.env(&[("OPENCLAW_PROFILE", "work")]));
        assert_eq!(h.dir, t.p("home/.openclaw-work"));
        assert_eq!(h.with_files, vec![t.p("home/.openclaw")]);

        let t = Tmp::new();
        t.state_in("home/.openclaw");
        let sd = t.p("sd").display().to_string();
        let h = resolve_home(&t.env(&[("OPENCLAW_STATE_DIR", &sd)]));
        assert_eq!(h.dir, t.p("home/.openclaw"), "the state keeps its folder");
        assert_eq!(h.rule, Rule::Default);
        assert_eq!(h.sticky_over, Some(t.p("sd")));

        // Both hold files: the first rule's state wins, both are listed.
        t.state_in("sd");
        let h = resolve_home(&t.env(&[("OPENCLAW_STATE_DIR", &sd)]));
        assert_eq!(h.dir, t.p("sd"));
        assert_eq!(h.sticky_over, None);
        assert_eq!(h.with_files, vec![t.p("sd"), t.p("home/.openclaw")]);
    }

    #[test]
    fn openclaw_config_path_rules() {
        let t = Tmp::new();
        let home = t.p("oc");
        let env = t.env(&[]);
        let c = resolve_openclaw_config(&env, &home);
        assert_eq!(c.path, home.join("openclaw.json"));
        assert!(c.why.starts_with("none found"), "{}", c.why);
        fs::write(home.join("moltbot.json"), "{}").unwrap();
        fs::write(home.join("clawdbot.json"), "{}").unwrap();
        let c = resolve_openclaw_config(&env, &home);
        assert_eq!(
            (c.path, c.why.as_str()),
            (home.join("clawdbot.json"), "<home>/clawdbot.json")
        );
        fs::write(home.join("openclaw.json"), "{}").unwrap();
        assert_eq!(
            resolve_openclaw_config(&env, &home).path,
            home.join("openclaw.json")
        );
        // The variable wins; its `~` is $OPENCLAW_HOME when that is set.
        let env = t.env(&[("OPENCLAW_CONFIG_PATH", "~/x.json5")]);
        assert_eq!(
            resolve_openclaw_config(&env, &home).path,
            t.p("home/x.json5")
        );
        let oc = t.oc();
        let env = t.env(&[("CLAWDBOT_CONFIG_PATH", "~/y.json"), ("OPENCLAW_HOME", &oc)]);
        let c = resolve_openclaw_config(&env, &home);
        assert_eq!(
            (c.path, c.why.as_str()),
            (t.p("oc/y.json"), "$CLAWDBOT_CONFIG_PATH")
        );
    }

    #[test]
    fn files_follow_the_home() {
        let t = Tmp::new();
        t.mkdir("oc/.openclaw");
        let oc = t.oc();
        let f = Files::resolve_in(&t.env(&[("OPENCLAW_HOME", &oc)]), None, Some("~/s.json"));
        assert_eq!(f.config, t.p("oc/.openclaw/net/config/ops-jobs.json"));
        assert_eq!(f.state, t.p("home/s.json"));
        assert_eq!(f.openclaw_config, t.p("oc/.openclaw/openclaw.json"));
        assert_eq!(f.home_choice.rule, Rule::HomeDotOpenclaw);
    }
}
