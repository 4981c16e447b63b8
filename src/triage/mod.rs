//! Deterministic triage: detectors over collected output that produce findings (category,
//! severity, summary, evidence lines and the tool call they came from). Works with no model.
//! Lands with issue 8.
