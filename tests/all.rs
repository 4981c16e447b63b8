//! The one integration-test binary (`cargo test --test all`): every test lives in a module under
//! `tests/suite/`, and `tests/support/` is the one support module they share as
//! `crate::support`. One binary links once instead of once per file; tests that need process
//! isolation re-exec this binary with their full `suite::...` name.
mod suite;
mod support;
