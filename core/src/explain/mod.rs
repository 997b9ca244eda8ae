//! What the views mean, for a reader: the glossary of the rule language, the pieces of a line
//! that can be explained or followed, and the odds of each load-balancing step.

pub mod anchor;
pub mod glossary;
pub mod odds;
pub mod tokens;

pub use glossary::{term, Term, TERMS};
pub use tokens::{tokens, Token};
