//! The Telegram token is a secret (SPEC §7): what this run knows of it, and
//! taking it out of text — job output (reports, stored tails, the state),
//! errors and `lastError`, whatever characters it holds, percent-encoded or
//! not.
//!
//! Tokens are learned from `$TELEGRAM_BOT_TOKEN` at start, from the OpenClaw
//! config through a source registered with [`learn_later`] (read on the
//! first redaction, so a run that never meets output never reads it), and
//! from every token delivery resolves ([`learn`]). The same source gives the
//! job config's own secrets — header values, a webhook URL's query, the
//! heartbeat URL, a command channel's arguments — which are redacted the
//! same way. Job commands are run
//! without `$TELEGRAM_BOT_TOKEN` in their environment ([`WITHHELD_ENV`]);
//! a job that still prints a token (it read the OpenClaw config itself) has
//! it redacted by the runner before anything else sees its output.

use std::sync::Mutex;

/// The environment variable OpenClaw reads the bot token from.
pub const TOKEN_ENV: &str = "TELEGRAM_BOT_TOKEN";

/// Environment variables no job command or command channel inherits.
pub const WITHHELD_ENV: &[&str] = &[TOKEN_ENV];

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Shorter values are not treated as secrets: redacting `1` everywhere
/// would make every output unreadable, and no token is that short.
const MIN_SECRET_CHARS: usize = 8;

type Source = Box<dyn FnOnce() -> Vec<String> + Send>;

struct Known {
    secrets: Vec<String>,
    later: Option<Source>,
}

static KNOWN: Mutex<Known> = Mutex::new(Known {
    secrets: Vec::new(),
    later: None,
});

/// Held while the source of [`learn_later`] is asked.
static ASKING: Mutex<()> = Mutex::new(());

fn known() -> std::sync::MutexGuard<'static, Known> {
    KNOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remember a secret for every later redaction.
pub fn learn(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let mut k = known();
    if !k.secrets.iter().any(|s| s == secret) {
        k.secrets.push(secret.to_string());
    }
}

/// Remember `$TELEGRAM_BOT_TOKEN` of this process.
pub fn learn_from_env() {
    if let Ok(token) = std::env::var(TOKEN_ENV) {
        learn(&token);
    }
}

/// Where more secrets come from, asked once on the first redaction of a
/// non-empty text (reading the OpenClaw config costs a little; a run that
/// redacts nothing never pays it). A later call replaces an unasked source.
pub fn learn_later(source: impl FnOnce() -> Vec<String> + Send + 'static) {
    known().later = Some(Box::new(source));
}

/// `text` with every known secret replaced by `<redacted>`, in any of the
/// spellings [`spellings`] lists.
pub fn redact(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    {
        // One thread asks the source while the others wait for what it
        // learns (statuses run in parallel); the secrets lock is not held
        // meanwhile, as resolving tokens calls `learn` itself.
        let _asking = ASKING.lock().unwrap_or_else(|e| e.into_inner());
        let later = known().later.take();
        if let Some(source) = later {
            for s in source() {
                learn(&s);
            }
        }
    }
    let secrets = known().secrets.clone();
    let mut out = text.to_string();
    for s in &secrets {
        out = redact_one(&out, s);
    }
    out
}

/// `text` with `secret` replaced: in a Bot API URL by `/bot<redacted>/`,
/// anywhere else by `<redacted>` — raw, percent-encoded as [`url_segment`]
/// and the URL parser do, and fully percent-encoded, in upper or lower case
/// hex.
pub fn redact_one(text: &str, secret: &str) -> String {
    let secret = secret.trim();
    if secret.is_empty() {
        return text.to_string();
    }
    let mut out = text.to_string();
    for v in spellings(secret) {
        // Most output holds no token: nothing to copy.
        if !out.contains(&v) {
            continue;
        }
        out = out.replace(&format!("/bot{v}/"), "/bot<redacted>/");
        out = out.replace(&v, REDACTED);
    }
    out
}

/// Every way `secret` can be written in a URL or an error, longest first
/// (so a longer spelling is replaced before a shorter one inside it).
fn spellings(secret: &str) -> Vec<String> {
    let mut all = vec![
        secret.to_string(),
        url_segment(secret),
        lower_hex(&url_segment(secret)),
        encode(secret, |b| {
            b.is_ascii_alphanumeric() || b"-._~".contains(&b)
        }),
        lower_hex(&encode(secret, |b| {
            b.is_ascii_alphanumeric() || b"-._~".contains(&b)
        })),
    ];
    // As the URL parser writes a URL built without encoding the token.
    if let Ok(url) = reqwest::Url::parse(&format!("http://h/bot{secret}/x")) {
        let s = url.as_str();
        if let Some(mid) = s
            .strip_prefix("http://h/bot")
            .and_then(|m| m.strip_suffix("/x"))
        {
            all.push(mid.to_string());
        }
    }
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
    all.retain(|s| !s.is_empty());
    all
}

/// `secret` as one URL path segment: every byte other than letters, digits,
/// `-._~` and `:` percent-encoded (upper-case hex). The Bot API URL is built
/// with it, so a token with `/`, `?`, `#`, `%` or a space is still one
/// segment, and its spelling in an error is known.
pub fn url_segment(secret: &str) -> String {
    encode(secret, |b| {
        b.is_ascii_alphanumeric() || b"-._~:".contains(&b)
    })
}

fn encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent escapes with lower-case hex digits (`%3a`), as some tools write them.
fn lower_hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3).unwrap_or(&rest[i..]);
        out.push_str(&esc.to_ascii_lowercase());
        rest = &rest[i + esc.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_token_is_redacted() {
        for token in [
            "123456:SENTINEL-TOKEN-xyz",
            "123456:SENT INEL/äö?#%x",
            "123:ab\"cd<ef>{gh}`ij",
        ] {
            let seg = url_segment(token);
            let url = reqwest::Url::parse(&format!("http://h/bot{token}/sendMessage"))
                .map(|u| u.to_string())
                .unwrap_or_default();
            let text = format!(
                "raw {token}; post http://h/bot{seg}/sendMessage; lower {}; parsed {url}",
                lower_hex(&seg)
            );
            let out = redact_one(&text, token);
            assert!(!out.contains("SENT") && !out.contains("ab\""), "{out}");
            assert!(out.contains("/bot<redacted>/sendMessage"), "{out}");
        }
        assert_eq!(redact_one("abc", ""), "abc");
    }

    #[test]
    fn a_token_is_one_path_segment() {
        assert_eq!(url_segment("123:AB-c_d.e~f"), "123:AB-c_d.e~f");
        assert_eq!(url_segment("1:a/b?c#d%e f"), "1:a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(url_segment("1:ä"), "1:%C3%A4");
    }

    proptest::proptest! {
        /// Whatever a token holds, none of its spellings survives: raw, as
        /// one URL segment, or as the URL parser writes it.
        #[test]
        fn no_spelling_of_any_token_survives(token in "[^\\s]{8,40}") {
            let seg = url_segment(&token);
            let parsed = reqwest::Url::parse(&format!("http://h/bot{token}/x"))
                .map(|u| u.to_string())
                .unwrap_or_default();
            let text = format!("a {token} b http://h/bot{seg}/x c {} d {parsed}", lower_hex(&seg));
            let out = redact_one(&text, &token);
            proptest::prop_assert!(!out.contains(&token), "{}", out);
            proptest::prop_assert!(!out.contains(&seg), "{}", out);
        }
    }

    #[test]
    fn short_values_are_not_secrets() {
        learn("1");
        learn("  ");
        assert_eq!(redact("1 2 3"), "1 2 3");
    }
}
