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
    let text = text.trim_end();
    let start = text
        .char_indices()
        .rev()
        .nth(max_chars - 1)
        .map_or(0, |(i, _)| i);
    text[start..].trim().to_string()
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
    fn tail_counts_characters_and_trims() {
        assert_eq!(tail("  héllo wörld 你好\n\n", 4), "d 你好");
        assert_eq!(tail("ab cd", 3), "cd");
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
