//! The schema's `pattern` keyword: the part of ECMA-262 regular expressions
//! that the embedded schema uses, matched by a small backtracking search.
//!
//! A full regex engine (the `jsonschema` crate brought two) cost more than a
//! megabyte of the release binary for five short patterns. This one knows
//! literals, `.`, classes (`[A-Za-z_]`, `[^\s/]`), the escapes `\s \S \d \D
//! \w \W` and escaped punctuation, groups with `|`, the quantifiers `? * +`,
//! and the anchors `^ $`; anything else is refused when the pattern is
//! parsed, and a unit test parses every pattern in the schema, so a schema
//! edit that needs more fails the tests, never a user's `validate-config`.
//! As in JSON Schema, a pattern matches anywhere in the string unless it is
//! anchored. Backtracking is fine here: the patterns are the schema's own,
//! short and without nested repeats, and the strings are config values.

/// A parsed pattern.
#[derive(Debug)]
pub(super) struct Pattern {
    alt: Alt,
}

/// Alternatives: `a|b`.
#[derive(Debug)]
struct Alt(Vec<Seq>);

/// A sequence of quantified atoms.
#[derive(Debug)]
struct Seq(Vec<Piece>);

#[derive(Debug)]
struct Piece {
    atom: Atom,
    min: usize,
    /// `None`: no upper bound.
    max: Option<usize>,
}

#[derive(Debug)]
enum Atom {
    Char(char),
    /// `.`: any character but a line terminator.
    Any,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
    Group(Alt),
    Start,
    End,
}

#[derive(Debug)]
enum ClassItem {
    Range(char, char),
    Set(Set),
}

/// The escapes `\s \S \d \D \w \W`.
#[derive(Debug, Clone, Copy)]
struct Set {
    kind: SetKind,
    negated: bool,
}

#[derive(Debug, Clone, Copy)]
enum SetKind {
    Space,
    Digit,
    Word,
}

impl Set {
    fn contains(self, c: char) -> bool {
        let hit = match self.kind {
            SetKind::Space => is_ecma_space(c),
            SetKind::Digit => c.is_ascii_digit(),
            SetKind::Word => c.is_ascii_alphanumeric() || c == '_',
        };
        hit != self.negated
    }
}

/// ECMA-262's `\s`: WhiteSpace and LineTerminator (Unicode's White_Space,
/// less U+0085, plus the byte order mark).
fn is_ecma_space(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}'
}

impl Pattern {
    /// Parse `source`; an error names what this subset does not know.
    pub(super) fn parse(source: &str) -> Result<Pattern, String> {
        let chars: Vec<char> = source.chars().collect();
        let mut parser = Parser { chars, at: 0 };
        let alt = parser.alt()?;
        if parser.at < parser.chars.len() {
            return Err(format!(
                "unexpected {:?} at {}",
                parser.chars[parser.at], parser.at
            ));
        }
        Ok(Pattern { alt })
    }

    /// Whether the pattern matches somewhere in `text`.
    pub(super) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        (0..=chars.len()).any(|start| {
            let mut k = |_| true;
            match_alt(&self.alt, &chars, start, &mut k)
        })
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Result<char, String> {
        let c = self.peek().ok_or("pattern ends too early")?;
        self.at += 1;
        Ok(c)
    }

    fn alt(&mut self) -> Result<Alt, String> {
        let mut seqs = vec![self.seq()?];
        while self.peek() == Some('|') {
            self.at += 1;
            seqs.push(self.seq()?);
        }
        Ok(Alt(seqs))
    }

    fn seq(&mut self) -> Result<Seq, String> {
        let mut pieces = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let (min, max) = match self.peek() {
                Some('?') => (0, Some(1)),
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('{') => return Err("counted repeats {n,m} are not supported".into()),
                _ => (1, Some(1)),
            };
            if max != Some(1) || min != 1 {
                self.at += 1;
                if matches!(atom, Atom::Start | Atom::End) {
                    return Err("a quantified anchor".into());
                }
                if matches!(self.peek(), Some('?' | '*' | '+')) {
                    return Err("lazy or stacked quantifiers are not supported".into());
                }
            }
            pieces.push(Piece { atom, min, max });
        }
        Ok(Seq(pieces))
    }

    fn atom(&mut self) -> Result<Atom, String> {
        let c = self.next()?;
        Ok(match c {
            '^' => Atom::Start,
            '$' => Atom::End,
            '.' => Atom::Any,
            '(' => {
                if self.peek() == Some('?') {
                    return Err("group flags (?…) are not supported".into());
                }
                let alt = self.alt()?;
                if self.next()? != ')' {
                    return Err("unclosed group".into());
                }
                Atom::Group(alt)
            }
            '[' => self.class()?,
            '\\' => match self.escape()? {
                ClassItem::Set(set) => Atom::Class {
                    negated: false,
                    items: vec![ClassItem::Set(set)],
                },
                ClassItem::Range(c, _) => Atom::Char(c),
            },
            '*' | '+' | '?' | '{' | '}' | ']' | ')' => {
                return Err(format!("unexpected {c:?}"));
            }
            c => Atom::Char(c),
        })
    }

    /// After a backslash: a set escape or an escaped character.
    fn escape(&mut self) -> Result<ClassItem, String> {
        let c = self.next()?;
        let set = |kind, negated| Ok(ClassItem::Set(Set { kind, negated }));
        match c {
            's' => set(SetKind::Space, false),
            'S' => set(SetKind::Space, true),
            'd' => set(SetKind::Digit, false),
            'D' => set(SetKind::Digit, true),
            'w' => set(SetKind::Word, false),
            'W' => set(SetKind::Word, true),
            'n' => Ok(ClassItem::Range('\n', '\n')),
            't' => Ok(ClassItem::Range('\t', '\t')),
            c if c.is_ascii_punctuation() => Ok(ClassItem::Range(c, c)),
            c => Err(format!("the escape \\{c} is not supported")),
        }
    }

    fn class(&mut self) -> Result<Atom, String> {
        let negated = self.peek() == Some('^');
        if negated {
            self.at += 1;
        }
        let mut items = Vec::new();
        loop {
            let c = self.next()?;
            let first = match c {
                ']' if !items.is_empty() => break,
                '[' => return Err("a '[' inside a class".into()),
                '\\' => self.escape()?,
                c => ClassItem::Range(c, c),
            };
            let is_range =
                self.peek() == Some('-') && self.chars.get(self.at + 1).is_some_and(|&n| n != ']');
            match first {
                ClassItem::Range(lo, _) if is_range => {
                    self.at += 1;
                    let hi = match self.next()? {
                        '\\' => match self.escape()? {
                            ClassItem::Range(hi, _) => hi,
                            ClassItem::Set(_) => return Err("a range ending in a set".into()),
                        },
                        hi => hi,
                    };
                    if hi < lo {
                        return Err(format!("the range {lo}-{hi} is backwards"));
                    }
                    items.push(ClassItem::Range(lo, hi));
                }
                item => items.push(item),
            }
        }
        Ok(Atom::Class { negated, items })
    }
}

/// Match `alt` at `at`, then hand each end position to `k` (the rest of the
/// pattern) until it accepts.
fn match_alt(alt: &Alt, text: &[char], at: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    alt.0.iter().any(|seq| match_seq(&seq.0, text, at, k))
}

fn match_seq(pieces: &[Piece], text: &[char], at: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    let Some((piece, rest)) = pieces.split_first() else {
        return k(at);
    };
    match_piece(piece, 0, text, at, &mut |next| {
        match_seq(rest, text, next, k)
    })
}

/// Greedy repeat of one piece: take another copy while allowed and
/// something matched, else hand over to the rest once `min` is reached.
fn match_piece(
    piece: &Piece,
    count: usize,
    text: &[char],
    at: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    let may_repeat = piece.max.is_none_or(|max| count < max);
    if may_repeat
        && match_atom(&piece.atom, text, at, &mut |next| {
            // A repeat beyond the least count that consumed nothing would
            // loop forever (an anchor or an empty group is zero-width).
            (next != at || count < piece.min) && match_piece(piece, count + 1, text, next, k)
        })
    {
        return true;
    }
    count >= piece.min && k(at)
}

fn match_atom(atom: &Atom, text: &[char], at: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    let here = text.get(at).copied();
    match atom {
        Atom::Start => at == 0 && k(at),
        Atom::End => at == text.len() && k(at),
        Atom::Group(alt) => match_alt(alt, text, at, k),
        Atom::Char(c) => here == Some(*c) && k(at + 1),
        Atom::Any => {
            here.is_some_and(|c| !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')) && k(at + 1)
        }
        Atom::Class { negated, items } => {
            here.is_some_and(|c| {
                let hit = items.iter().any(|item| match *item {
                    ClassItem::Range(lo, hi) => (lo..=hi).contains(&c),
                    ClassItem::Set(set) => set.contains(c),
                });
                hit != *negated
            }) && k(at + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::parse(pattern).unwrap().is_match(text)
    }

    #[test]
    fn the_schemas_patterns_match_as_ecma_does() {
        assert!(m(r"\S", "a"));
        assert!(m(r"\S", "  x  "));
        assert!(!m(r"\S", ""));
        assert!(!m(r"\S", " \t\n\u{a0}\u{feff}"));
        let url = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/]+";
        assert!(m(url, "http://127.0.0.1:9093/api"));
        assert!(m(url, "HTTPS://example"));
        assert!(!m(url, "ftp://example"));
        assert!(!m(url, "http:///path"));
        assert!(!m(url, " http://x"));
        let time = r"^([01][0-9]|2[0-3]):[0-5][0-9]$";
        for ok in ["00:00", "09:30", "19:59", "23:59"] {
            assert!(m(time, ok), "{ok}");
        }
        for bad in ["24:00", "9:30", "23:60", "23:59 ", "x23:59", ""] {
            assert!(!m(time, bad), "{bad}");
        }
        let label = r"^[A-Za-z_][A-Za-z0-9_]*$";
        assert!(m(label, "_a1"));
        assert!(m(label, "host"));
        assert!(!m(label, "1host"));
        assert!(!m(label, "ho-st"));
        assert!(!m(label, ""));
    }

    #[test]
    fn quantifiers_backtrack() {
        assert!(m("^a*ab$", "aaab"));
        assert!(m("^(a|ab)c$", "abc"));
        assert!(m("^a+$", "aaa"));
        assert!(!m("^a+$", ""));
        assert!(m("^(a*)*b$", "aab"));
        assert!(m(r"^\d\D\w\W$", "1a_-"));
        assert!(m(r"^[\-a]+\.$", "-a."));
        assert!(m("^.$", "é"));
        assert!(!m("^.$", "\n"));
    }

    #[test]
    fn what_the_subset_does_not_know_is_refused() {
        for bad in [
            "a{2}", "(?i)a", "a**", r"\p{L}", "[a", "(a", "a)", "[z-a]", "*",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
