//! Redaction before anything is written under TAI_HOME. The engine lives in [`crate::redact`]
//! (shared with the transports, which redact output streams before the cap); this module
//! keeps the knowledge layer's path to it.
pub use crate::redact::{findings, redact};
