//! `run_command`: one read-only command line split without a shell; its `| STAGE`s are
//! applied by tai to the captured output ([`crate::tools::pipeline`]).
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::tools::pipeline;
use crate::tools::schema::{parse_args, schema_for};
use crate::tools::step::run_step;
use crate::tools::types::{ArgsError, ExecContext, HostFacts, Run, Step, Tool, ToolError};

/// Arguments of `run_command`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCommandArgs {
    /// One read-only command line, e.g. `journalctl -u nginx -n 50`, optionally followed by
    /// `| STAGE` filters that tai applies itself to the output: grep, sort, uniq, head, tail,
    /// wc, cut, tr, column -t, simple sed (s///, p, d) and simple awk '{print $N}' (e.g.
    /// `ss -tan | awk '{print $1}' | sort | uniq -c`).
    /// No redirections, `;`, `&&`, `||`, `$(...)` or globs: only the first command runs on the
    /// host, without a shell, and the read-only policy decides.
    pub command: String,
}

pub struct RunCommand;

#[async_trait::async_trait]
impl Tool for RunCommand {
    fn name(&self) -> &'static str {
        "run_command"
    }
    fn description(&self) -> &'static str {
        "Run one read-only command line that no other tool covers, optionally with `| grep/sort/uniq/head/tail/wc/cut/tr/sed/awk` stages applied by tai; the policy decides"
    }
    fn parameters(&self) -> Value {
        schema_for::<RunCommandArgs>()
    }
    fn render(&self, args: &Value, _facts: &HostFacts) -> Result<Vec<Step>, ArgsError> {
        let a: RunCommandArgs = parse_args("run_command", args)?;
        let (argv, _) = pipeline::split_pipeline(&a.command)?;
        Ok(vec![Step::new(argv)])
    }

    /// The paths the command would read are resolved on the host and re-checked by
    /// [`run_step`] (as for every tool), so a symlink cannot lead to a secret.
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: RunCommandArgs = parse_args("run_command", args)?;
        // Only the first segment runs on the host; `| STAGE`s are applied by tai below.
        let (argv, stages) = pipeline::split_pipeline(&a.command).map_err(ArgsError::from)?;
        let mut run = Run::default();
        run_step(ctx, &Step::new(argv), &mut run, |s| {
            pipeline::apply_stages(&stages, s)
        })
        .await?;
        pipeline::annotate(&mut run.commands, &stages);
        Ok(run)
    }
}
