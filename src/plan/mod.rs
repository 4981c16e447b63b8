//! Issue categories and baseline plans: the classifier that maps issue text to a category, and
//! each category's tool calls (data in `tools/`), run concurrently by `tai collect` and `/collect`.
//! Lands with issue 4.
