//! The [`Registry`] of built-in tools.
use std::collections::BTreeMap;
use std::sync::Arc;

use super::types::{Tool, ToolSpec};

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
