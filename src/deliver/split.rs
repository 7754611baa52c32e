//! Splitting a report for Telegram's limit of 4096 characters per message
//! (SPEC §7): between sections, in order, the header on the first part; a
//! single section too long for one message is cut with a marker.
//!
//! Telegram counts those characters in UTF-16 code units (SPEC §11), so an
//! emoji outside the Basic Multilingual Plane is two: every length here is
//! [`units`], never bytes or `chars()`. A cut never falls inside a
//! character, so never between the two halves of a surrogate pair.

/// Most UTF-16 code units in one Telegram message.
pub const TELEGRAM_LIMIT: usize = 4096;

/// `text`'s length as Telegram counts it: UTF-16 code units.
pub fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// What ends a section that was cut to fit.
pub const CUT_MARKER: &str = "… [cut]";

const SEPARATOR: &str = "\n\n";

/// The parts to send, in order, each at most `limit` UTF-16 units. The parts
/// joined by a blank line give the report back when nothing had to be cut.
pub fn split(header: &str, sections: &[String], limit: usize) -> Vec<String> {
    let sep = units(SEPARATOR);
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    let pieces = std::iter::once(header)
        .filter(|h| !h.is_empty())
        .chain(sections.iter().map(String::as_str));
    for piece in pieces {
        let piece = cut(piece, limit);
        let len = units(&piece);
        if current_len > 0 && current_len + sep + len <= limit {
            current.push_str(SEPARATOR);
            current.push_str(&piece);
            current_len += sep + len;
        } else {
            if current_len > 0 || !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            current = piece;
            current_len = len;
        }
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

/// Long free text (`notify`) as pieces of at most `limit` UTF-16 code units
/// (Telegram's count, stricter than characters), cut between lines where
/// it can be and inside an over-long line only where it must.
pub fn chunks(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(2);
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if units(&current) + units(line) <= limit {
            current.push_str(line);
            continue;
        }
        if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        // A line longer than a message: cut it by characters.
        let mut n = 0;
        for c in line.chars() {
            if n + c.len_utf16() > limit {
                out.push(std::mem::take(&mut current));
                n = 0;
            }
            current.push(c);
            n += c.len_utf16();
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.into_iter()
        .map(|c| c.trim_end_matches('\n').to_string())
        .filter(|c| !c.trim().is_empty())
        .collect()
}

/// `text` if it fits in `limit` UTF-16 units, else its start and the
/// marker, together at most `limit` units: whole characters only, so a
/// character of two units that would straddle the limit is left out whole.
pub fn cut(text: &str, limit: usize) -> String {
    if units(text) <= limit {
        return text.to_string();
    }
    let marker = format!("\n{CUT_MARKER}");
    let keep = limit.saturating_sub(units(&marker));
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        if used + c.len_utf16() > keep {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    out.push_str(&marker);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: usize, c: char) -> String {
        std::iter::repeat_n(c, n).collect()
    }

    #[test]
    fn a_short_report_is_one_part_equal_to_the_text() {
        let sections = vec!["• a\n- x".to_string(), "• b".to_string()];
        assert_eq!(split("H", &sections, 4096), vec!["H\n\n• a\n- x\n\n• b"]);
        assert_eq!(split("only", &[], 4096), vec!["only"]);
    }

    #[test]
    fn exactly_the_limit_in_utf16_units_is_one_part() {
        // 'é' and '漢' are one UTF-16 unit (a byte count would split this),
        // '🛠' is two (a character count would not split what Telegram
        // refuses).
        let header = s(10, 'é');
        let a = s(2000, '漢');
        let b = s((4096 - 10 - 2 - 2000 - 2) / 2, '🛠');
        let parts = split(&header, &[a.clone(), b.clone()], TELEGRAM_LIMIT);
        assert_eq!(parts.len(), 1);
        assert_eq!(units(&parts[0]), 4096);
        assert_eq!(parts[0].chars().count(), 4096 - 1041);

        let b1 = format!("{b}x");
        let parts = split(&header, &[a.clone(), b1.clone()], TELEGRAM_LIMIT);
        assert_eq!(parts, vec![format!("{header}\n\n{a}"), b1]);
    }

    #[test]
    fn emoji_sections_are_split_by_utf16_units() {
        // 3000 emoji: 3000 characters, 6000 units — two messages' worth.
        let sections: Vec<String> = (0..3).map(|_| s(1000, '😀')).collect();
        let parts = split("H", &sections, TELEGRAM_LIMIT);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], format!("H\n\n{}\n\n{}", sections[0], sections[1]));
        assert_eq!(parts[1], sections[2]);
        assert!(parts.iter().all(|p| units(p) <= TELEGRAM_LIMIT));
    }

    #[test]
    fn a_cut_never_falls_inside_a_surrogate_pair() {
        // The marker is 8 units, so 4088 are kept: "a" and 2043 emoji make
        // 4087, and the next emoji would straddle the limit — left out whole.
        let text = format!("a{}", s(3000, '😀'));
        let out = cut(&text, TELEGRAM_LIMIT);
        assert_eq!(units(&format!("\n{CUT_MARKER}")), 8);
        assert_eq!(out, format!("a{}\n{CUT_MARKER}", s(2043, '😀')));
        assert_eq!(units(&out), 4095);
        let head = out.strip_suffix(&format!("\n{CUT_MARKER}")).unwrap();
        assert!(text.starts_with(head));
        assert!(String::from_utf16(&out.encode_utf16().collect::<Vec<_>>()).is_ok());
        // Exactly the limit in units is not cut.
        let exact = s(2048, '😀');
        assert_eq!(cut(&exact, TELEGRAM_LIMIT), exact);
        assert!(cut(&format!("{exact}x"), TELEGRAM_LIMIT).ends_with(CUT_MARKER));
    }

    #[test]
    fn parts_keep_order_and_header_stays_first() {
        let sections: Vec<String> = (0..5).map(|i| s(1500, char::from(b'a' + i))).collect();
        let parts = split("HEAD", &sections, TELEGRAM_LIMIT);
        assert_eq!(parts.len(), 3);
        assert!(parts[0].starts_with("HEAD\n\naaa"));
        assert!(parts[0].contains('b'));
        assert!(parts[1].starts_with('c') && parts[1].contains('d'));
        assert!(parts[2].starts_with('e'));
        assert!(parts.iter().all(|p| units(p) <= TELEGRAM_LIMIT));
    }

    #[test]
    fn an_over_long_section_is_cut_with_a_marker() {
        let long = s(5000, 'ж');
        let parts = split("H", &[long, "tail".to_string()], TELEGRAM_LIMIT);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "H");
        assert_eq!(parts[1].chars().count(), TELEGRAM_LIMIT);
        assert!(parts[1].ends_with(CUT_MARKER));
        assert_eq!(parts[2], "tail");
    }

    #[test]
    fn long_text_is_chunked_between_lines_and_loses_nothing() {
        let line = format!("{}\n", s(99, 'a'));
        let text = line.repeat(100); // 10 000 characters
        let parts = chunks(&text, TELEGRAM_LIMIT);
        assert_eq!(parts.len(), 3);
        assert!(parts
            .iter()
            .all(|p| p.encode_utf16().count() <= TELEGRAM_LIMIT));
        assert_eq!(parts.join("\n") + "\n", text, "cut only at line ends");
        // One line longer than a message, in characters of two UTF-16 units.
        let wide = s(3000, '🛠');
        let parts = chunks(&wide, TELEGRAM_LIMIT);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts.concat(), wide);
        assert!(parts
            .iter()
            .all(|p| p.encode_utf16().count() <= TELEGRAM_LIMIT));
        assert_eq!(chunks("short", TELEGRAM_LIMIT), vec!["short"]);
    }

    #[test]
    fn an_over_long_header_alone_is_cut_too() {
        let parts = split(&s(5000, 'x'), &[], TELEGRAM_LIMIT);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].chars().count(), TELEGRAM_LIMIT);
    }
}
