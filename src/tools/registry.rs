//! The [`Tool`] trait and the [`Registry`] of built-in tools.
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::exec::{ExecContext, Run};
use super::{HostFacts, ToolError};

/// One argv a tool wants to run.
pub type Argv = Vec<String>;

/// One command of a tool call, with alternatives tried in order when the program is missing
/// on the host (`journalctl` → the syslog file, `ss` → `netstat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub argv: Argv,
    pub fallbacks: Vec<Argv>,
    /// Exit codes that count as success (`systemctl status` exits 3 for a stopped unit).
    pub ok_codes: Vec<i32>,
}

impl Step {
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Self {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            fallbacks: Vec::new(),
            ok_codes: vec![0],
        }
    }

    pub fn or<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.fallbacks
            .push(argv.into_iter().map(Into::into).collect());
        self
    }

    pub fn ok_codes(mut self, codes: &[i32]) -> Self {
        self.ok_codes = codes.to_vec();
        self
    }

    /// Every argv this step may run, primary first.
    pub fn all_argv(&self) -> impl Iterator<Item = &Argv> {
        std::iter::once(&self.argv).chain(self.fallbacks.iter())
    }
}

/// A read-only tool the model (or a plan) can call.
#[async_trait::async_trait]
pub trait Tool: Send + Sync {
    /// The name the model calls (part of tai's contract).
    fn name(&self) -> &'static str;
    /// One line for `tai tools list` and the model.
    fn description(&self) -> &'static str;
    /// The cleaned JSON schema of the arguments.
    fn parameters(&self) -> Value;
    /// Every built-in tool is read-only; the registry refuses any that is not.
    fn is_read_only(&self) -> bool {
        true
    }
    /// The commands a call renders to on a host with these facts (for multi-stage tools, the
    /// first stage). `Err` is an argument problem the model can fix.
    fn render(&self, args: &Value, facts: &HostFacts) -> Result<Vec<Step>, String>;
    /// Run one call: by default every rendered step through policy then transport.
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let steps = self
            .render(args, &ctx.facts)
            .map_err(ToolError::RespondToModel)?;
        let mut run = Run::default();
        for step in &steps {
            if !super::exec::run_step(ctx, step, &mut run, |s| s).await? {
                break;
            }
        }
        Ok(run)
    }
}

/// What the model sees of a tool.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// The cleaned JSON schema.
    pub parameters: Value,
}

/// The set of tools a session can call.
#[derive(Clone)]
pub struct Registry {
    tools: BTreeMap<&'static str, Arc<dyn Tool>>,
    order: Vec<&'static str>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("tools", &self.order)
            .finish()
    }
}

impl Registry {
    /// Every built-in tool, in a stable order.
    pub fn builtin() -> Registry {
        let mut r = Registry {
            tools: BTreeMap::new(),
            order: Vec::new(),
        };
        for t in super::builtin::all() {
            r.add(t);
        }
        r
    }

    fn add(&mut self, tool: Arc<dyn Tool>) {
        // Only read-only tools exist in tai; refuse anything else outright.
        if !tool.is_read_only() {
            return;
        }
        let name = tool.name();
        if self.tools.insert(name, tool).is_none() {
            self.order.push(name);
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.order.clone()
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.order
            .iter()
            .filter_map(|n| self.tools.get(n))
            .map(|t| ToolSpec {
                name: t.name().to_string(),
                description: t.description().to_string(),
                parameters: t.parameters(),
            })
            .collect()
    }
}
