//! `tai mcp`: tai's read-only tools, triage and runbooks for any MCP client, over stdio or
//! streamable HTTP (rmcp). The server drives the same session engine as `tai run` and the
//! REPL: [`SessionTools`](crate::agent::SessionTools) (policy, registry, knowledge, audit) and
//! [`Host`](crate::agent::Host) connections, kept warm per host by [`hosts::Pool`]. Hosts are
//! limited to [`hosts::Allowlist`]; every failure is a tool result with `isError: true`.
//! Nothing here writes to stdout: in stdio mode stdout is the protocol.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, GetPromptRequestParams, GetPromptResponse,
    Implementation, ListPromptsResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

use crate::agent::SessionTools;
use crate::config::Config;
use crate::exit::{Code, HasExitCode};

pub mod hosts;
mod http;
pub mod resources;
pub mod tools;

pub use hosts::{Allowlist, Pool};

/// Errors of the MCP front end.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("host {host:?} is not in tai mcp's allowlist; allowed: {}\n  add it with --hosts, [mcp] hosts in config.toml, or an ssh_config alias matching --host-pattern", allowed_list(allowed))]
    HostNotAllowed { host: String, allowed: Vec<String> },
    #[error("refusing to serve MCP on {addr} without a bearer token: a non-loopback address needs --token-file FILE or TAI_MCP_TOKEN")]
    TokenRequired { addr: SocketAddr },
    #[error("cannot read the MCP token file {path}: {reason}\n  write the token (one line) to that file, readable by this user")]
    TokenFile { path: String, reason: String },
    #[error(
        "cannot listen on {addr}: {source}\n  pick a free port or another address with --http ADDR"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid --http address {0:?}: expected HOST:PORT, e.g. 127.0.0.1:8765")]
    BadAddr(String),
    #[error("the MCP session on stdio failed: {0}")]
    Stdio(String),
    #[error(transparent)]
    Setup(#[from] crate::agent::AgentError),
}

fn allowed_list(allowed: &[String]) -> String {
    if allowed.is_empty() {
        "(none)".to_string()
    } else {
        allowed.join(", ")
    }
}

impl HasExitCode for McpError {
    fn exit_code(&self) -> Code {
        match self {
            McpError::HostNotAllowed { .. }
            | McpError::TokenRequired { .. }
            | McpError::BadAddr(_) => Code::Usage,
            McpError::TokenFile { .. } => Code::Config,
            McpError::Bind { .. } | McpError::Stdio(_) => Code::Failure,
            McpError::Setup(e) => e.exit_code(),
        }
    }
}

/// How `tai mcp` was started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Allowed hosts given by name (`--hosts` and `[mcp] hosts`).
    pub hosts: Vec<String>,
    /// ssh_config alias globs (`--host-pattern`).
    pub host_patterns: Vec<String>,
    /// Close a host's connection after this long without a call.
    pub idle_timeout: Duration,
    /// `--http ADDR`; `None` = stdio.
    pub http: Option<SocketAddr>,
    /// The bearer token HTTP clients must send (required off loopback).
    pub token: Option<String>,
}

/// The MCP server: one per process, shared by every HTTP session.
#[derive(Clone)]
pub struct TaiMcp {
    tools: Arc<tools::Tools>,
}

impl TaiMcp {
    /// Load the session's tools (policy, registry, knowledge, audit) and build the allowlist.
    pub async fn new(config: &Config, opts: &Options) -> Result<TaiMcp, McpError> {
        let session = SessionTools::load(config).await?;
        if let Some(p) = &session.knowledge_problem {
            eprintln!("tai mcp: note: runbooks and history not available: {p}");
        }
        let allow = Allowlist::new(&opts.hosts, &opts.host_patterns, &config.ssh.config_file);
        if allow.is_empty() {
            eprintln!(
                "tai mcp: note: no host is allowed; every host-bound tool will be refused \
                 (use --hosts, --host-pattern or [mcp] hosts)"
            );
        }
        let knowledge = session.knowledge.clone();
        let pool = Pool::new(config.clone(), session, opts.idle_timeout);
        pool.spawn_reaper();
        Ok(TaiMcp {
            tools: Arc::new(tools::Tools::new(allow, pool, knowledge)),
        })
    }

    /// The tools as the handler serves them (tests call them in process).
    pub fn tools(&self) -> &tools::Tools {
        &self.tools
    }

    /// The allowed hosts.
    pub fn allowed(&self) -> &[String] {
        self.tools.allow.names()
    }

    /// Serve one client on stdin/stdout until it disconnects.
    pub async fn serve_stdio(self) -> Result<(), McpError> {
        let pool = self.tools.pool.clone();
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| McpError::Stdio(e.to_string()))?;
        let ended = running.waiting().await;
        pool.close_all().await;
        ended
            .map(|_| ())
            .map_err(|e| McpError::Stdio(e.to_string()))
    }

    /// Serve streamable HTTP on `addr` (path `/mcp`) until `shutdown` is cancelled.
    pub async fn serve_http(
        self,
        addr: SocketAddr,
        token: Option<String>,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Result<(), McpError> {
        http::serve(self, addr, token, shutdown).await
    }
}

impl ServerHandler for TaiMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("tai", env!("CARGO_PKG_VERSION")))
        .with_instructions(format!(
            "tai: read-only Linux troubleshooting over SSH. Every host-bound tool needs `host`, \
             one of: {}. Start with `triage`; commands outside tai's read-only policy are \
             refused with the reason.",
            allowed_list(self.allowed())
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let result = self
            .tools
            .call(&request.name, request.arguments, &context.ct)
            .await;
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let items = match &self.tools.knowledge {
            Some(k) => resources::list(k).map_err(|e| ErrorData::internal_error(e, None))?,
            None => Vec::new(),
        };
        Ok(ListResourcesResult::with_all_items(items))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let Some(k) = &self.tools.knowledge else {
            return Err(ErrorData::resource_not_found(
                "the knowledge store is not available to this server",
                None,
            ));
        };
        resources::read(k, &request.uri)
            .map(Into::into)
            .map_err(|e| ErrorData::resource_not_found(e.to_string(), None))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(resources::prompts()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != "investigate" {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown prompt {:?}; tai serves `investigate`",
                    request.name
                ),
                None,
            ));
        }
        let arg = |k: &str| {
            request
                .arguments
                .as_ref()
                .and_then(|a| a.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let (Some(host), Some(issue)) = (arg("host"), arg("issue")) else {
            return Err(ErrorData::invalid_params(
                "`investigate` needs `host` and `issue`",
                None,
            ));
        };
        if let Err(e) = self.tools.allow.check(&host) {
            return Err(ErrorData::invalid_params(e.to_string(), None));
        }
        Ok(resources::investigate(&host, &issue).into())
    }
}
