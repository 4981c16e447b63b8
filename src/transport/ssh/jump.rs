//! Jump hosts: parsing `-J`/`ProxyJump` chains (`[user@]host[:port]` or `ssh://` URIs,
//! comma-separated) and tunnelling each next hop through a `direct-tcpip` channel of the
//! previous one. No `ssh` binary and no ProxyCommand is ever executed.
use crate::transport::{HostSpec, TransportError};

/// Parse a comma-separated jump chain, first hop first.
pub fn parse_chain(chain: &str) -> Result<Vec<HostSpec>, TransportError> {
    let mut hops = Vec::new();
    for part in chain.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(TransportError::SshConfig(format!(
                "empty hop in jump chain {chain:?}"
            )));
        }
        let spec = match part.strip_prefix("ssh://") {
            Some(rest) => HostSpec::parse(rest.trim_end_matches('/'))?,
            None => HostSpec::parse(part)?,
        };
        hops.push(spec);
    }
    Ok(hops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chains() {
        let c = parse_chain("ops@bastion:2222,ssh://root@inner:22,plain").unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].user.as_deref(), Some("ops"));
        assert_eq!(c[0].port, Some(2222));
        assert_eq!(c[1].host, "inner");
        assert_eq!(c[2].user, None);
        assert!(parse_chain("a,,b").is_err());
        assert!(parse_chain("-oProxyCommand=x").is_err());
    }
}
