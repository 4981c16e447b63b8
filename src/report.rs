//! The report type (Root Cause / Evidence / Recommended Actions / Confidence) and its
//! renderings: terminal, Markdown and JSON. Lands with issue 5.
