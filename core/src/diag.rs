//! Diagnostics: what kpx tells the reader about their input.
//!
//! Every problem carries a position in the reader's text (1-based line and column) so the
//! editor can point at it; positions come from the YAML parser's spans (see `input::yaml`).

use serde::Serialize;
use std::fmt;

/// A position in the reader's text. Both numbers are 1-based, as editors show them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    /// This position, read in a section of the text counted from its own first line, in the
    /// whole text's lines: the section has `lines` lines above it (`input::reading`).
    pub fn below(self, lines: usize) -> Pos {
        Pos {
            line: self.line + lines,
            ..self
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, col {}", self.line, self.col)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input cannot be rendered.
    Error,
    /// Rendered, but something was ignored or looks wrong.
    Warning,
}

/// One message about the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub pos: Pos,
    pub message: String,
}

/// The longest message a diagnostic keeps, in bytes. Messages quote the reader's values back,
/// and a value may be a megabyte long: past this, the middle of the message is left out.
pub const MAX_MESSAGE: usize = 480;

/// `message`, with its middle left out when it is longer than [`MAX_MESSAGE`] (the start says
/// what is wrong, the end what was expected).
fn bounded(message: String) -> String {
    if message.len() <= MAX_MESSAGE {
        return message;
    }
    let floor = |mut i: usize| {
        while !message.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let head = floor(MAX_MESSAGE * 2 / 3);
    let tail = floor(message.len() - MAX_MESSAGE / 4);
    format!(
        "{} … ({} bytes left out) … {}",
        &message[..head],
        tail - head,
        &message[tail..]
    )
}

impl Diagnostic {
    /// The same message, at its position in the whole text's lines ([`Pos::below`]).
    pub fn below(&self, lines: usize) -> Diagnostic {
        Diagnostic {
            pos: self.pos.below(lines),
            ..self.clone()
        }
    }
    pub fn error(pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            pos,
            message: bounded(message.into()),
        }
    }
    pub fn warning(pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            pos,
            message: bounded(message.into()),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {}: {}", self.pos, kind, self.message)
    }
}

/// The input could not be turned into a dataplane: at least one error, in text order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_keeps_its_start_and_end() {
        let value = "é".repeat(1 << 20);
        let d = Diagnostic::error(
            Pos::default(),
            format!("spec.clusterIP: Invalid value: \"{value}\": must be a valid IP address"),
        );
        assert!(d.message.len() <= MAX_MESSAGE + 64, "{}", d.message.len());
        assert!(d.message.starts_with("spec.clusterIP: Invalid value: \"éé"));
        assert!(d.message.ends_with("éé\": must be a valid IP address"));
        assert!(d.message.contains(" bytes left out) … "));
        let short = Diagnostic::warning(Pos::default(), "short");
        assert_eq!(short.message, "short");
    }
}
