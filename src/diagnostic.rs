//! Problems found in profiles, and their rendering as `FILE:LINE:COLUMN: message` with the source
//! line and a caret under the value, the way rustc shows them.

use std::fmt::Write as _;
use std::path::PathBuf;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::profile::tree::{FileId, Origin};

/// The text of every profile file read, so diagnostics can quote it.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

#[derive(Debug)]
pub struct SourceFile {
    /// The name shown in messages: the path as the user gave it, or `stock/NAME.toml`.
    pub name: String,
    /// The file on disk; `None` for a stock profile compiled into the binary.
    pub path: Option<PathBuf>,
    pub text: String,
    /// False when messages must not quote the file's lines: a file reached through `extends`
    /// that others may not read, such as `/etc/shadow` behind a symlink named `base.toml`.
    pub quotable: bool,
}

impl SourceMap {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        self.files.len() - 1
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id]
    }

    /// Returns the 1-based line and column (counted in characters) of byte `offset` in file `id`.
    pub fn line_column(&self, id: FileId, offset: usize) -> (usize, usize) {
        let text = &self.files[id].text;
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a profile.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The place of the problem; `None` when it concerns no particular place, such as a missing file.
    pub origin: Option<Origin>,
    pub message: String,
    /// A short note shown under the caret.
    pub label: Option<String>,
    /// The suggested fix.
    pub help: Option<String>,
    /// True when the source line must not be quoted, because it contains a secret.
    pub hide_source: bool,
}

impl Diagnostic {
    pub fn error(origin: Option<Origin>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            origin,
            message: message.into(),
            label: None,
            help: None,
            hide_source: false,
        }
    }

    pub fn warning(origin: Option<Origin>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Self::error(origin, message)
        }
    }

    #[must_use]
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Leaves the source line out of the rendering, for lines that hold a secret.
    #[must_use]
    pub fn with_hidden_source(mut self) -> Self {
        self.hide_source = true;
        self
    }

    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic: a `FILE:LINE:COLUMN: severity: message` line, the source line
    /// with a caret, then the help line.
    pub fn render(&self, sources: &SourceMap, renderer: &Renderer) -> String {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut output = String::new();
        let Some(origin) = &self.origin else {
            let _ = writeln!(output, "{severity}: {}", self.message);
            self.render_help(&mut output);
            output.push('\n');
            return output;
        };

        let file = sources.get(origin.file);
        let (line, column) = sources.line_column(origin.file, origin.span.start);
        let _ = writeln!(
            output,
            "{}:{line}:{column}: {severity}: {}",
            file.name, self.message
        );
        if self.hide_source || !file.quotable {
            self.render_help(&mut output);
            output.push('\n');
            return output;
        }
        let span = caret_span(&file.text, &origin.span);
        let annotation = AnnotationKind::Primary
            .span(span)
            .label(self.label.as_deref());
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let snippet = Snippet::source(file.text.as_str())
            .line_start(1)
            .annotation(annotation);
        let group = Group::with_level(level).element(snippet);
        output.push_str(&renderer.render(&[group]));
        output.push('\n');
        self.render_help(&mut output);
        output.push('\n');
        output
    }

    fn render_help(&self, output: &mut String) {
        if let Some(help) = &self.help {
            let _ = writeln!(output, "  = help: {help}");
        }
    }
}

/// Narrows a span to its first line, so a caret under a multi-line table stays on one line.
fn caret_span(text: &str, span: &std::ops::Range<usize>) -> std::ops::Range<usize> {
    let start = floor_char_boundary(text, span.start.min(text.len()));
    let end = floor_char_boundary(text, span.end.min(text.len())).max(start);
    let line_end = text[start..end]
        .find('\n')
        .map_or(end, |newline| start + newline);
    start..line_end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(text: &str) -> SourceMap {
        let mut map = SourceMap::default();
        map.add(SourceFile {
            name: "p.toml".into(),
            path: None,
            text: text.into(),
            quotable: true,
        });
        map
    }

    #[test]
    fn line_column_counts_characters() {
        let map = sources("a = 1\nbé = \"x\"\n");
        assert_eq!(map.line_column(0, 0), (1, 1));
        assert_eq!(map.line_column(0, 6), (2, 1));
        assert_eq!(map.line_column(0, 12), (2, 6));
    }

    #[test]
    fn render_shows_position_and_caret() {
        let map = sources("kind = \"sandbox\"\nsnapshoter = 1\n");
        let diagnostic = Diagnostic::error(
            Some(Origin {
                file: 0,
                span: 17..27,
            }),
            "unknown key",
        )
        .with_label("here")
        .with_help("fix it");
        let text = diagnostic.render(&map, &Renderer::plain());
        assert!(
            text.starts_with("p.toml:2:1: error: unknown key\n"),
            "{text}"
        );
        assert!(text.contains("2 | snapshoter = 1"), "{text}");
        assert!(text.contains("^^^^^^^^^^ here"), "{text}");
        assert!(text.contains("= help: fix it"), "{text}");
    }
}
