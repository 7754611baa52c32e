//! Small text helpers shared by every module that shows captured output or a
//! user's value in a bounded space: the tail of a stream, a capped value with
//! one ellipsis spelling (`…`), the lossy decoding of a capture cut at a byte
//! limit, and the last non-empty line.
//!
//! All limits count characters, never bytes, so a cut never splits one.
//! What this module does not own: the report's Chinese queue section, which
//! cuts without a marker exactly as the Python version does
//! (`rules::shown_output`), and the cut of a message too long for its
//! channel, which has its own marker (`deliver::split`).

/// The one spelling of "there was more" after a capped value.
pub const ELLIPSIS: char = '…';

/// The last `max_chars` characters (not bytes) of `text`, trimmed: the
/// `stdoutTail`/`stderrTail` of the state. Trailing whitespace is dropped
/// before counting so it does not use up the budget. No marker: the Python
/// version cuts its tails without one, and the state must match it.
pub fn tail(text: &str, max_chars: usize) -> String {
    if max_chars == 0 {
        return String::new();
    }
    // The Python version's `_tail`: strip, then the last N characters —
    // a cut that starts with a blank keeps it.
    let text = text.trim();
    let start = text
        .char_indices()
        .rev()
        .nth(max_chars - 1)
        .map_or(0, |(i, _)| i);
    text[start..].to_string()
}

/// The first `max` characters of `s`, followed by [`ELLIPSIS`] when cut.
pub fn cap(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}{ELLIPSIS}", &s[..i]),
    }
}

/// The last line of `text` that is not blank, trimmed.
pub fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

/// The first line of `text` that is not blank, trimmed ("" if none).
pub fn first_line(text: &str) -> &str {
    text.trim().lines().next().unwrap_or("").trim()
}

/// Text from a job made safe for a one-line field (SPEC §3): terminal
/// escape sequences removed, line breaks and tabs turned into spaces, other
/// control characters removed — so a status cannot forge a section, an
/// `ALERT` line, or colour a terminal.
pub fn one_line(s: &str) -> String {
    clean(s, false)
}

/// Text from a job made safe for a block of output (a tail in a report or
/// the state): terminal escape sequences and control characters removed,
/// line breaks (`\n`) and tabs kept.
pub fn safe_block(s: &str) -> String {
    clean(s, true)
}

fn clean(s: &str, keep_lines: bool) -> String {
    // Most text needs no change (a status line ends with `\n`, which a
    // block keeps): copied as it is.
    let changed =
        |c: char| (c.is_control() || is_line_break(c)) && !(keep_lines && matches!(c, '\n' | '\t'));
    if !s.chars().any(changed) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI (`ESC [ … final`) and OSC (`ESC ] … BEL|ESC \`) are
                // dropped whole; any other escape loses its next character.
                match chars.next() {
                    Some('[') => {
                        for d in chars.by_ref() {
                            if ('\u{40}'..='\u{7e}').contains(&d) {
                                break;
                            }
                        }
                    }
                    Some(']') => {
                        while let Some(d) = chars.next() {
                            if d == '\u{7}' || (d == '\u{1b}' && chars.next_if_eq(&'\\').is_some())
                            {
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
            '\n' | '\t' if keep_lines => out.push(c),
            '\r' if keep_lines => {}
            c if is_line_break(c) || c == '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// A progress key as stored and compared (SPEC §3): whole when it has at
/// most [`KEY_CHARS`] characters, else its first 1900 characters, `…#` and
/// 16 hex digits of a hash of the whole key, so a change anywhere is seen.
pub fn long_key(key: &str) -> String {
    if key.chars().count() <= KEY_CHARS {
        return key.to_string();
    }
    let head: String = key.chars().take(1900).collect();
    format!("{head}{ELLIPSIS}#{:016x}", fnv1a(key.as_bytes()))
}

/// Most characters of a progress key stored whole.
pub const KEY_CHARS: usize = 2000;

/// FNV-1a, 64 bits: a fixed, documented hash (not std's, whose output may
/// change between Rust releases), so stored keys stay comparable.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A capture as text: UTF-8 with invalid bytes replaced. When the capture
/// was `truncated` at a byte limit, a character split by the cut is dropped
/// rather than shown as U+FFFD.
pub fn decode(bytes: &[u8], truncated: bool) -> String {
    let bytes = if truncated {
        &bytes[..bytes.len() - split_char_len(bytes)]
    } else {
        bytes
    };
    String::from_utf8_lossy(bytes).into_owned()
}

/// How many bytes at the end of `bytes` are the start of a multi-byte UTF-8
/// character whose remaining bytes are missing.
fn split_char_len(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: the leading byte is further back
        }
        let needed = match b {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if needed > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_text_cannot_forge_lines_or_colour_the_terminal() {
        let forged = "ok\n\n• Payroll sync (payroll)\n- 状态: completed ✅\r\n• ALERT x";
        assert_eq!(
            one_line(forged),
            "ok  • Payroll sync (payroll) - 状态: completed ✅  • ALERT x"
        );
        assert_eq!(one_line("\u{1b}[31mred\u{1b}[0m\u{7}"), "red");
        assert_eq!(one_line("a\u{1b}]0;title\u{7}b"), "ab");
        assert_eq!(one_line("a\u{2028}b\tc"), "a b c");
        assert_eq!(
            safe_block("line 1\r\n\u{1b}[1mline 2\u{1b}[0m\tx"),
            "line 1\nline 2\tx"
        );
        assert_eq!(one_line("plain"), "plain");
    }

    #[test]
    fn long_progress_keys_keep_a_hash_of_the_whole() {
        let short = "k".repeat(2000);
        assert_eq!(long_key(&short), short);
        let a = format!("{}{}", "k".repeat(2500), "a");
        let b = format!("{}{}", "k".repeat(2500), "b");
        assert_ne!(long_key(&a), long_key(&b), "a change after the cut is seen");
        assert_eq!(long_key(&a).chars().count(), 1900 + 2 + 16);
        assert!(long_key(&a).contains("…#"));
        assert_eq!(long_key(&a), long_key(&a.clone()));
    }

    #[test]
    fn tail_counts_characters_and_trims() {
        assert_eq!(tail("  héllo wörld 你好\n\n", 4), "d 你好");
        assert_eq!(tail("ab cd", 3), " cd", "as Python's _tail cuts it");
        assert_eq!(tail("  short  ", 800), "short");
        assert_eq!(tail("你好世界", 2), "世界");
        assert_eq!(tail("abc", 0), "");
        assert_eq!(tail("", 5), "");
    }

    #[test]
    fn cap_counts_characters_and_marks_a_cut_once() {
        assert_eq!(cap("abc", 3), "abc");
        assert_eq!(cap("abcd", 3), "abc…");
        assert_eq!(cap("你好世界", 2), "你好…");
        assert_eq!(cap("", 0), "");
        assert_eq!(cap("a", 0), "…");
    }

    #[test]
    fn last_and_first_lines_skip_blank_ones() {
        assert_eq!(last_line("one\n two \n\n  \n"), Some("two"));
        assert_eq!(last_line(" \n\n"), None);
        assert_eq!(first_line("\n  one \ntwo"), "one");
        assert_eq!(first_line(""), "");
    }

    #[test]
    fn a_cut_inside_a_character_drops_it() {
        assert_eq!(decode(&[b'a', 0xE4, 0xBD], true), "a");
        assert_eq!(decode(&[b'a', 0xE4, 0xBD], false), "a\u{FFFD}");
        assert_eq!(decode("a你".as_bytes(), true), "a你");
        assert_eq!(decode(&[b'a', 0xF0, 0x9F, 0x98], true), "a");
        assert_eq!(decode(&[b'a', 0xC3], true), "a");
        assert_eq!(decode(b"abc", true), "abc");
        assert_eq!(split_char_len(&[]), 0);
    }
}
