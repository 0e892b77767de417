//! YAML scalars that k3s reads back exactly.
//!
//! k3s parses its config with go-yaml v2, a YAML 1.1 parser, which reads `yes`, `on`, `0644`
//! and `1e3` as booleans and numbers when unquoted. Every string is therefore written
//! double-quoted, with each character YAML does not allow raw, or would read as a line break,
//! escaped.

use std::fmt::Write as _;

/// Writes `text` as a double-quoted YAML scalar.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            character if needs_escape(character) => {
                let code = u32::from(character);
                if code <= 0xFFFF {
                    let _ = write!(out, "\\u{code:04X}");
                } else {
                    let _ = write!(out, "\\U{code:08X}");
                }
            }
            character => out.push(character),
        }
    }
    out.push('"');
    out
}

/// Returns true for characters outside YAML 1.1's printable set, and for those it reads as
/// line breaks (NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR) or a byte order mark.
fn needs_escape(character: char) -> bool {
    let code = u32::from(character);
    code < 0x20
        || (0x7F..=0x9F).contains(&code)
        || matches!(code, 0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF)
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn plain_strings_are_quoted() {
        assert_eq!(quote("native"), "\"native\"");
        assert_eq!(quote("0644"), "\"0644\"");
        assert_eq!(quote("yes"), "\"yes\"");
    }

    #[test]
    fn special_characters_are_escaped() {
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("line\nbreak"), "\"line\\nbreak\"");
        assert_eq!(quote("\u{7f}\u{85}\u{2028}"), "\"\\u007F\\u0085\\u2028\"");
        assert_eq!(quote("grüße: #x"), "\"grüße: #x\"");
    }
}
