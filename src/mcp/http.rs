//! The streamable HTTP transport of `tai mcp --http ADDR`: rmcp's `StreamableHttpService` at
//! `/mcp`, served by hyper (already in the tree), behind a bearer-token check. A non-loopback
//! address needs a token; on loopback a configured token is required too.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::{McpError, TaiMcp};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// The path the MCP endpoint is served at.
pub const PATH: &str = "/mcp";

pub async fn serve(
    server: TaiMcp,
    addr: SocketAddr,
    token: Option<String>,
    shutdown: CancellationToken,
) -> Result<(), McpError> {
    let loopback = addr.ip().is_loopback();
    if !loopback && token.is_none() {
        return Err(McpError::TokenRequired { addr });
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| McpError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| McpError::Bind { addr, source })?;
    let mut config =
        StreamableHttpServerConfig::default().with_cancellation_token(shutdown.child_token());
    if !loopback {
        // Clients reach a non-loopback server by its own name; the bearer token guards it.
        config = config.disable_allowed_hosts();
    }
    let pool = server.tools.pool.clone();
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    eprintln!(
        "tai mcp: serving streamable HTTP on http://{bound}{PATH}{}",
        if token.is_some() {
            " (bearer token required)"
        } else {
            ""
        }
    );
    let token: Option<Arc<str>> = token.map(Into::into);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                eprintln!("tai mcp: accept failed on {bound}: {e}");
                continue;
            }
        };
        let service = service.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |req: Request<Incoming>| {
                let mut service = service.clone();
                let token = token.clone();
                async move {
                    if req.uri().path() != PATH {
                        return Ok::<_, Infallible>(plain(
                            StatusCode::NOT_FOUND,
                            "tai mcp serves MCP at /mcp",
                        ));
                    }
                    if let Some(t) = &token {
                        if !authorized(&req, t) {
                            let mut r = plain(
                                StatusCode::UNAUTHORIZED,
                                "a bearer token is required: send Authorization: Bearer <token>",
                            );
                            r.headers_mut().insert(
                                hyper::header::WWW_AUTHENTICATE,
                                hyper::header::HeaderValue::from_static("Bearer"),
                            );
                            return Ok(r);
                        }
                    }
                    tower_service::Service::call(&mut service, req).await
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler);
            if let Err(e) = conn.await {
                if !e.is_incomplete_message() {
                    eprintln!("tai mcp: HTTP connection error: {e}");
                }
            }
        });
    }
    pool.close_all().await;
    Ok(())
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *r.status_mut() = status;
    r
}

/// `Authorization: Bearer <token>`, compared in constant time.
fn authorized<B>(req: &Request<B>, token: &str) -> bool {
    let Some(value) = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(given) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return false;
    };
    constant_time_eq(given.trim().as_bytes(), token.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        let req = |v: Option<&str>| {
            let mut b = Request::builder();
            if let Some(v) = v {
                b = b.header("authorization", v);
            }
            b.body(()).unwrap()
        };
        assert!(authorized(&req(Some("Bearer s3cret")), "s3cret"));
        assert!(!authorized(&req(Some("Bearer s3cre")), "s3cret"));
        assert!(!authorized(&req(Some("Bearer s3cretX")), "s3cret"));
        assert!(!authorized(&req(Some("Basic s3cret")), "s3cret"));
        assert!(!authorized(&req(None), "s3cret"));
    }
}
