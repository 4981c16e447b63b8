//! `tai mcp`: start the MCP server ([`crate::mcp`]) on stdio (default) or streamable HTTP
//! (`--http ADDR`). Writes nothing to stdout itself: in stdio mode stdout is the protocol.
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::Result;

use super::args::McpArgs;
use crate::config::Config;
use crate::exit::Code;
use crate::mcp::{McpError, Options, TaiMcp};

/// Entry point for `tai mcp`.
pub async fn run(config: &Config, args: McpArgs) -> Result<Code> {
    let mut hosts = args.hosts.clone();
    hosts.extend(config.mcp_hosts.iter().cloned());
    let http = match &args.http {
        Some(a) => Some(parse_addr(a)?),
        None => None,
    };
    let token = token(&args)?;
    let opts = Options {
        hosts,
        host_patterns: args.host_pattern.clone(),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        http,
        token: token.clone(),
    };
    if let Some(addr) = opts.http {
        // Refuse before loading anything: no token off loopback is a usage error.
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(McpError::TokenRequired { addr }.into());
        }
    }
    let server = TaiMcp::new(config, &opts).await?;
    eprintln!(
        "tai mcp: allowed hosts: {}",
        if server.allowed().is_empty() {
            "(none)".to_string()
        } else {
            server.allowed().join(", ")
        }
    );
    match opts.http {
        None => server.serve_stdio().await?,
        Some(addr) => {
            let shutdown = tokio_util::sync::CancellationToken::new();
            let on_signal = shutdown.clone();
            tokio::spawn(async move {
                // Ctrl-C or SIGTERM: stop accepting, close the warm connections, exit 0.
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut term) => {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = term.recv() => {}
                        }
                    }
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
                on_signal.cancel();
            });
            server.serve_http(addr, token, shutdown).await?;
        }
    }
    Ok(Code::Success)
}

/// `HOST:PORT`; a bare port means loopback.
fn parse_addr(s: &str) -> Result<SocketAddr, McpError> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| McpError::BadAddr(s.to_string()))
}

/// The bearer token: `--token-file` (first line), else `TAI_MCP_TOKEN`.
fn token(args: &McpArgs) -> Result<Option<String>, McpError> {
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path).map_err(|e| McpError::TokenFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let t = text.lines().next().unwrap_or_default().trim().to_string();
        if t.is_empty() {
            return Err(McpError::TokenFile {
                path: path.display().to_string(),
                reason: "the file is empty".into(),
            });
        }
        return Ok(Some(t));
    }
    Ok(crate::config::process_env("TAI_MCP_TOKEN"))
}
