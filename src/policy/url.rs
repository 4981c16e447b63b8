//! URL and host checks for network probes (`curl URL`, `ping HOST`, `openssl s_client
//! -connect HOST:PORT`, `dig @SERVER`): a probe may go anywhere except the cloud metadata
//! services and link-local addresses, which hand out credentials.
//!
//! An address is refused in every spelling a host-side resolver accepts: `inet_aton` forms
//! (decimal `2852039166`, hex `0xa9fea9fe`, octal `0251.0376.0251.0376`, short forms
//! `169.254.43518`), IPv6 that embeds an IPv4 address (mapped, compatible, SIIT, NAT64, 6to4,
//! Teredo), zone ids, trailing dots. URLs are parsed exactly (scheme, authority, port): only
//! `http`/`https`, no userinfo, no percent-encoding or backslashes in the authority, no curl
//! globbing. Names are checked lexically (`metadata`, `instance-data`, and addresses embedded
//! in wildcard-DNS names such as `169-254-169-254.example`); a name that merely resolves to a
//! metadata address can only be caught after resolution, with [`check_ip`].
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What to do instead, appended to every refusal.
const INSTEAD: &str = "probe the service's own address instead; tai never queries cloud metadata or link-local addresses (they hand out credentials)";

/// Why a probe target (URL, host, `HOST:PORT`, curl text, resolved address) was refused.
/// The policy turns it into the refusal's reason; each text says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("URL `{url}` contains {found:?}; write the URL without spaces or control characters")]
    UrlSpace { url: String, found: char },
    #[error("URL `{0}` contains a backslash; write `/` (backslashes are read differently by different parsers)")]
    UrlBackslash(String),
    #[error(
        "URL `{0}` is not plain ASCII; percent-encode the path, write the host as ASCII (punycode)"
    )]
    UrlNotAscii(String),
    #[error(
        "`{0}` is not an http:// or https:// URL; write the scheme explicitly (http://HOST/...)"
    )]
    NoScheme(String),
    #[error(
        "URL scheme `{0}` is not allowed; only http:// and https:// probes are (to see whether a \
         TCP port answers, use `curl -sv --max-time 5 http://HOST:PORT/` or `openssl s_client \
         -connect HOST:PORT -brief`; `ss -tlnp` shows local listeners)"
    )]
    Scheme(String),
    #[error("URL `{0}` has no host; write http://HOST/...")]
    NoHost(String),
    #[error("URL `{0}` carries a user name or password (`user@`); tai sends no credentials, write http://HOST/...")]
    UserInfo(String),
    #[error("URL `{url}` contains `{found}` after the host, which curl expands as a glob into many requests; percent-encode it")]
    UrlGlob { url: String, found: char },
    /// A problem with the host or port of a URL.
    #[error("URL `{url}`: {source}")]
    InUrl {
        url: String,
        source: Box<ProbeError>,
    },
    /// A problem with a host word (`ping HOST`, `dig @SERVER`).
    #[error("host `{host}`: {source}")]
    InHost {
        host: String,
        source: Box<ProbeError>,
    },
    /// A problem with a `HOST:PORT` word.
    #[error("`{word}`: {source}")]
    InHostPort {
        word: String,
        source: Box<ProbeError>,
    },
    /// A problem with the host of a curl `Host:` header.
    #[error("header `{header}`: {source}")]
    InHeader {
        header: String,
        source: Box<ProbeError>,
    },
    #[error("`{0}` starts with `@`, which makes curl read that file (and send it); write the text itself")]
    ReadsFile(String),
    #[error(
        "`{0}` contains `%output{{...}}`, which makes curl write a file; tai never writes files"
    )]
    WritesFile(String),
    #[error("`{0}` contains a control character (a header must be one line)")]
    HeaderControl(String),
    #[error("bad port")]
    BadPortReading,
    #[error("unexpected resolver output `{0}`")]
    ResolverOutput(String),
    #[error("an IPv6 address needs a closing `]`")]
    UnclosedV6,
    #[error("unexpected `{0}` after the address")]
    AfterAddress(String),
    #[error("port `{0}` must be a number from 0 to 65535")]
    Port(String),
    #[error("the host is empty")]
    EmptyHost,
    #[error("`{0}` names a cloud metadata service; {INSTEAD}")]
    MetadataName(String),
    #[error("the name embeds an address: {0}")]
    EmbeddedInName(Box<ProbeError>),
    #[error("zone id `{0}` must be an interface name")]
    Zone(String),
    #[error("`{0}` is not an IPv6 address; write it in standard form")]
    NotV6(String),
    #[error(
        "`{0}` is not allowed in a host name (letters, digits, `-`, `_`, `.`; IPv6 in [brackets])"
    )]
    NameCharacter(char),
    #[error("is not a valid host name (empty label, label starting with `-`, or too long)")]
    InvalidName,
    #[error("looks like a numeric address but is not a valid one; write a dotted quad (10.0.0.5)")]
    BadNumeric,
    #[error("{0} is a link-local address (cloud metadata lives at 169.254.169.254); {INSTEAD}")]
    LinkLocalV4(Ipv4Addr),
    #[error("{0} is a cloud metadata address; {INSTEAD}")]
    MetadataV4(Ipv4Addr),
    #[error("{0} is a link-local address; {INSTEAD}")]
    LinkLocalV6(Ipv6Addr),
    #[error("{0} is the AWS IPv6 metadata address range; {INSTEAD}")]
    MetadataV6(Ipv6Addr),
    #[error("{addr} embeds {source}")]
    EmbeddedInV6 {
        addr: Ipv6Addr,
        source: Box<ProbeError>,
    },
}

impl ProbeError {
    fn in_url(url: &str) -> impl FnOnce(ProbeError) -> ProbeError + '_ {
        move |e| ProbeError::InUrl {
            url: url.to_string(),
            source: Box::new(e),
        }
    }
}

/// Check an `http://` or `https://` URL for a probe (curl's URL argument).
pub fn check_url(v: &str) -> Result<(), ProbeError> {
    parse_url(v).map(|_| ())
}

/// A URL [`check_url`] accepts, split once: the lowercase scheme, the port as written and
/// the host as written and as parsed.
struct Url<'a> {
    scheme: String,
    host: &'a str,
    port: Option<&'a str>,
    target: Target,
}

/// Parse and check an `http(s)://` URL (see [`check_url`]); the one place a URL's authority
/// is split.
fn parse_url(v: &str) -> Result<Url<'_>, ProbeError> {
    if let Some(c) = v.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(ProbeError::UrlSpace {
            url: v.to_string(),
            found: c,
        });
    }
    if v.contains('\\') {
        return Err(ProbeError::UrlBackslash(v.to_string()));
    }
    if !v.is_ascii() {
        return Err(ProbeError::UrlNotAscii(v.to_string()));
    }
    let (scheme, rest) = v
        .split_once("://")
        .ok_or_else(|| ProbeError::NoScheme(v.to_string()))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(ProbeError::Scheme(scheme));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() {
        return Err(ProbeError::NoHost(v.to_string()));
    }
    if authority.contains('@') {
        return Err(ProbeError::UserInfo(v.to_string()));
    }
    if let Some(c) = tail.chars().find(|c| "{}[]".contains(*c)) {
        return Err(ProbeError::UrlGlob {
            url: v.to_string(),
            found: c,
        });
    }
    let (host, port) = split_authority(authority).map_err(ProbeError::in_url(v))?;
    if let Some(p) = port {
        check_port(p).map_err(ProbeError::in_url(v))?;
    }
    let target = parse_host(host).map_err(ProbeError::in_url(v))?;
    check_target(&target).map_err(ProbeError::in_url(v))?;
    Ok(Url {
        scheme,
        host,
        port,
        target,
    })
}

/// Check a host name or address a probe connects to (`ping HOST`, `traceroute HOST`,
/// `dig @SERVER`, openssl's `-connect HOST:PORT`). A single leading `@` (dig's server syntax)
/// is accepted. A word is judged under every reading a program may give it: the whole word
/// as a host, and `HOST:PORT` split at the last `:` (OpenSSL's reading, so
/// `::ffff:a9fe:a9fe:443` is refused) or `[V6]:PORT`. It is allowed only when at least one
/// reading is well formed and no well-formed reading is refused.
pub fn check_host(v: &str) -> Result<(), ProbeError> {
    let h = v.strip_prefix('@').unwrap_or(v);
    check_readings(h).map_err(|e| ProbeError::InHost {
        host: v.to_string(),
        source: Box::new(e),
    })
}

/// Check `HOST:PORT`, `[V6]:PORT` or a bare `HOST` (openssl `-connect`, `host:port`
/// operands), under every reading as [`check_host`] does.
pub fn check_host_port(v: &str) -> Result<(), ProbeError> {
    check_readings(v).map_err(|e| ProbeError::InHostPort {
        word: v.to_string(),
        source: Box::new(e),
    })
}

/// Text curl sends or prints (`-H`, `-A`, `-w`): `@FILE` reads a file (and sends it), and
/// `-w '%output{FILE}'` (curl 8.3+) writes one.
pub fn check_curl_text(v: &str) -> Result<(), ProbeError> {
    if v.starts_with('@') {
        return Err(ProbeError::ReadsFile(v.to_string()));
    }
    if v.to_ascii_lowercase().contains("%output{") {
        return Err(ProbeError::WritesFile(v.to_string()));
    }
    // A `Host:` header makes a local reverse proxy forward to that host.
    if let Some((name, value)) = v.split_once(':') {
        if name.trim().eq_ignore_ascii_case("host") {
            check_host(value.trim()).map_err(|e| ProbeError::InHeader {
                header: v.to_string(),
                source: Box::new(e),
            })?;
        }
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(ProbeError::HeaderControl(v.to_string()));
    }
    Ok(())
}

/// The readings of a host word (see [`check_host`]).
fn check_readings(h: &str) -> Result<(), ProbeError> {
    let mut readings: Vec<(&str, Option<&str>)> = vec![(h, None)];
    if h.starts_with('[') {
        if let Ok((host, Some(port))) = split_authority(h) {
            readings.push((host, Some(port)));
        }
    } else if let Some((host, port)) = h.rsplit_once(':') {
        readings.push((host, Some(port)));
    }
    let mut valid = 0;
    let mut first_error = None;
    for (host, port) in readings {
        let port_ok = port.is_none_or(|p| {
            let service = p.starts_with(|c: char| c.is_ascii_alphabetic())
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            service || (!p.is_empty() && check_port(p).is_ok())
        });
        match parse_host(host).and_then(|t| port_ok.then_some(t).ok_or(ProbeError::BadPortReading))
        {
            Ok(target) => {
                check_target(&target)?;
                valid += 1;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match (valid, first_error) {
        (0, Some(e)) => Err(e),
        _ => Ok(()),
    }
}

/// The DNS names a probe word connects to, for resolving on the host and re-checking each
/// address with [`check_ip`] (a name can resolve to a metadata address). `url`: a URL that
/// passed [`check_url`]; otherwise a host word that passed [`check_host`]. Addresses and
/// the names `check_*` already refuse are not returned.
pub fn names_to_resolve(word: &str, url: bool) -> Vec<String> {
    let host = if url {
        match parse_url(word) {
            Ok(u) => vec![u.host],
            Err(_) => Vec::new(),
        }
    } else {
        let h = word.strip_prefix('@').unwrap_or(word);
        let mut v = vec![h];
        if let Some((host, _)) = h.rsplit_once(':') {
            v.push(host);
        }
        v
    };
    let mut out = Vec::new();
    for h in host {
        if let Ok(Target::Name(n)) = parse_host(h) {
            if !n.is_empty() && !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// Check what the host resolved for a probe's names: the output of `getent ahosts NAME...`
/// (each line starts with an address). Every address is checked with [`check_ip`]; a line
/// that does not start with an address fails closed.
pub fn check_resolved_addresses(getent_ahosts: &str) -> Result<(), ProbeError> {
    for line in getent_ahosts.lines().filter(|l| !l.trim().is_empty()) {
        let first = line.split_whitespace().next().unwrap_or("");
        let ip: IpAddr = first
            .parse()
            .map_err(|_| ProbeError::ResolverOutput(line.to_string()))?;
        check_ip(ip)?;
    }
    Ok(())
}

/// curl `--resolve` arguments that pin every URL in `argv` whose host is a DNS name to the
/// addresses the host resolved for it (`resolved`: name → addresses, already checked with
/// [`check_ip`]), so curl connects to exactly what was checked: a second DNS answer
/// (rebinding) cannot differ. Names without resolved addresses are not pinned.
pub fn curl_pins(argv: &[String], resolved: &[(String, Vec<IpAddr>)]) -> Vec<String> {
    let mut pins: Vec<String> = Vec::new();
    for word in argv {
        let word = word.strip_prefix("--url=").unwrap_or(word);
        let Some((written, name, port)) = url_endpoint(word) else {
            continue;
        };
        let Some((_, addrs)) = resolved.iter().find(|(n, a)| *n == name && !a.is_empty()) else {
            continue;
        };
        let mut list: Vec<String> = Vec::new();
        for a in addrs {
            let a = match a {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            };
            if !list.contains(&a) {
                list.push(a);
            }
        }
        // The name as written too (case, trailing dot): curl matches --resolve entries on it.
        for host in [name, written] {
            let pin = format!("{host}:{port}:{}", list.join(","));
            if !pins.contains(&pin) {
                pins.push("--resolve".into());
                pins.push(pin);
            }
        }
    }
    pins
}

/// The host as written, its DNS name and the port an `http(s)://` URL connects to (the
/// scheme's port when none is given); `None` for addresses and for anything [`check_url`]
/// refuses.
fn url_endpoint(v: &str) -> Option<(String, String, u16)> {
    let u = parse_url(v).ok()?;
    let Target::Name(name) = u.target else {
        return None;
    };
    let port = match u.port.filter(|p| !p.is_empty()) {
        Some(p) => p.parse().ok()?,
        None if u.scheme == "https" => 443,
        None => 80,
    };
    Some((u.host.to_string(), name, port))
}

/// Check an address after resolution: cloud metadata services and link-local addresses,
/// including IPv4 addresses embedded in IPv6 ones.
pub fn check_ip(ip: IpAddr) -> Result<(), ProbeError> {
    match ip {
        IpAddr::V4(a) => check_v4(a),
        IpAddr::V6(a) => check_v6(a),
    }
}

/// Split `host[:port]` or `[v6][:port]`; the host keeps its brackets.
fn split_authority(a: &str) -> Result<(&str, Option<&str>), ProbeError> {
    if a.starts_with('[') {
        let close = a.find(']').ok_or(ProbeError::UnclosedV6)?;
        let (host, rest) = a.split_at(close + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => match rest.strip_prefix(':') {
                Some(p) => Ok((host, Some(p))),
                None => Err(ProbeError::AfterAddress(rest.to_string())),
            },
        };
    }
    Ok(match a.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (a, None),
    })
}

fn check_port(p: &str) -> Result<(), ProbeError> {
    if p.is_empty() {
        return Ok(());
    }
    match p.parse::<u16>() {
        Ok(_) if p.chars().all(|c| c.is_ascii_digit()) => Ok(()),
        _ => Err(ProbeError::Port(p.to_string())),
    }
}

/// What a host word names, once parsed.
enum Target {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    /// A DNS name, lowercase, without its trailing dot.
    Name(String),
}

/// Parse a host: `[v6]`, a bare IPv6 literal (with an optional zone id), an IPv4 address in
/// any `inet_aton` spelling, or a DNS name. `Err` only for words that are none of these.
fn parse_host(h: &str) -> Result<Target, ProbeError> {
    if h.is_empty() {
        return Err(ProbeError::EmptyHost);
    }
    if let Some(inner) = h.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(ProbeError::UnclosedV6)?;
        return parse_v6_literal(inner);
    }
    if h.contains(':') {
        return parse_v6_literal(h);
    }
    parse_name(h)
}

fn check_target(t: &Target) -> Result<(), ProbeError> {
    match t {
        Target::V4(a) => check_v4(*a),
        Target::V6(a) => check_v6(*a),
        Target::Name(name) => {
            for l in name.split('.') {
                if matches!(l, "metadata" | "instance-data") {
                    return Err(ProbeError::MetadataName(l.to_string()));
                }
            }
            for ip in embedded_addresses(name) {
                check_ip(ip).map_err(|e| ProbeError::EmbeddedInName(Box::new(e)))?;
            }
            Ok(())
        }
    }
}

/// An IPv6 literal with an optional zone id (`fe80::1%eth0`, `%25eth0` in URLs).
fn parse_v6_literal(s: &str) -> Result<Target, ProbeError> {
    let (addr, zone) = match s.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (s, None),
    };
    if let Some(z) = zone {
        let z = z.strip_prefix("25").unwrap_or(z);
        let ok = !z.is_empty()
            && z.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(ProbeError::Zone(z.to_string()));
        }
    }
    addr.parse()
        .map(Target::V6)
        .map_err(|_| ProbeError::NotV6(addr.to_string()))
}

/// A host name, or an IPv4 address in any `inet_aton` spelling.
fn parse_name(h: &str) -> Result<Target, ProbeError> {
    if h == "." {
        return Ok(Target::Name(String::new())); // the DNS root (`dig . NS`)
    }
    let lower = h.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        return Err(ProbeError::NameCharacter(c));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.iter().any(|l| l.is_empty() || l.starts_with('-')) || name.len() > 253 {
        return Err(ProbeError::InvalidName);
    }
    if labels
        .iter()
        .all(|l| numeric_part(l).is_some() || looks_numeric(l))
    {
        // glibc's inet_aton and curl both read these as an IPv4 address.
        return inet_aton(&labels)
            .map(Target::V4)
            .ok_or(ProbeError::BadNumeric);
    }
    Ok(Target::Name(name.to_string()))
}

/// A label that starts like a number (`0x`, a digit) but may not parse as one.
fn looks_numeric(l: &str) -> bool {
    l.starts_with(|c: char| c.is_ascii_digit())
        && l.chars().all(|c| c.is_ascii_hexdigit() || c == 'x')
}

/// One part of an `inet_aton` address: decimal, `0x` hex or `0` octal, as `strtoul(.., 0)`.
fn numeric_part(p: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x") {
        (h, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() && radix == 16 {
        return Some(0); // `0x` alone is 0 to glibc
    }
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// `a`, `a.b`, `a.b.c`, `a.b.c.d`: the last part fills the remaining bytes.
fn inet_aton(parts: &[&str]) -> Option<Ipv4Addr> {
    let nums: Vec<u64> = parts
        .iter()
        .map(|p| numeric_part(p))
        .collect::<Option<_>>()?;
    let (last, head) = nums.split_last()?;
    if head.len() > 3 || head.iter().any(|n| *n > 0xff) {
        return None;
    }
    let room = 8 * (4 - head.len() as u32);
    if room < 64 && *last >= 1u64 << room {
        return None;
    }
    let mut v: u64 = 0;
    for (i, n) in head.iter().enumerate() {
        v |= n << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from((v | last) as u32))
}

/// Addresses spelled inside a name by wildcard-DNS services: `169.254.169.254.nip.io`,
/// `169-254-169-254.sslip.io`, hex `a9fea9fe.nip.io`, dashed IPv6 `fe80--1.sslip.io`.
fn embedded_addresses(name: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let parts: Vec<&str> = name.split(['.', '-']).collect();
    for w in parts.windows(4) {
        let quad: Option<Vec<u8>> = w
            .iter()
            .map(|p| {
                (p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit()))
                    .then(|| p.parse::<u8>().ok())
                    .flatten()
            })
            .collect();
        if let Some(q) = quad {
            out.push(IpAddr::V4(Ipv4Addr::new(q[0], q[1], q[2], q[3])));
        }
    }
    for p in &parts {
        if p.len() == 8 && p.chars().all(|c| c.is_ascii_hexdigit()) {
            if let Ok(n) = u32::from_str_radix(p, 16) {
                out.push(IpAddr::V4(Ipv4Addr::from(n)));
            }
        }
    }
    for label in name.split('.') {
        if label.contains("--") {
            if let Ok(ip) = label.replace('-', ":").parse::<Ipv6Addr>() {
                out.push(IpAddr::V6(ip));
            }
        }
    }
    out
}

fn check_v4(a: Ipv4Addr) -> Result<(), ProbeError> {
    let o = a.octets();
    if o[0] == 169 && o[1] == 254 {
        return Err(ProbeError::LinkLocalV4(a));
    }
    // Alibaba Cloud metadata, Azure WireServer, Oracle Cloud's legacy metadata address.
    const METADATA: [[u8; 4]; 3] = [[100, 100, 100, 200], [168, 63, 129, 16], [192, 0, 0, 192]];
    if METADATA.contains(&o) {
        return Err(ProbeError::MetadataV4(a));
    }
    Ok(())
}

fn check_v6(a: Ipv6Addr) -> Result<(), ProbeError> {
    let s = a.segments();
    if s[0] & 0xffc0 == 0xfe80 {
        return Err(ProbeError::LinkLocalV6(a));
    }
    if s[0] == 0xfd00 && s[1] == 0x0ec2 {
        return Err(ProbeError::MetadataV6(a));
    }
    for v4 in embedded_v4(a) {
        check_v4(v4).map_err(|e| ProbeError::EmbeddedInV6 {
            addr: a,
            source: Box::new(e),
        })?;
    }
    Ok(())
}

/// IPv4 addresses an IPv6 address carries: mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`,
/// SIIT `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48` (every RFC 6052
/// prefix length), 6to4 `2002:AABB:CCDD::`, Teredo (client address inverted).
fn embedded_v4(a: Ipv6Addr) -> Vec<Ipv4Addr> {
    let b = a.octets();
    let s = a.segments();
    let low = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
    let mut out = Vec::new();
    if s[..5].iter().all(|x| *x == 0) && (s[5] == 0 || s[5] == 0xffff) {
        out.push(low);
    }
    if s[..4].iter().all(|x| *x == 0) && s[4] == 0xffff && s[5] == 0 {
        out.push(low);
    }
    if s[0] == 0x64 && s[1] == 0xff9b {
        out.push(low);
        if s[2] == 1 {
            // RFC 6052 layouts for /32../64 (bits 64..71 are the reserved u octet).
            let pick = |idx: [usize; 4]| Ipv4Addr::new(b[idx[0]], b[idx[1]], b[idx[2]], b[idx[3]]);
            out.push(pick([4, 5, 6, 7]));
            out.push(pick([5, 6, 7, 9]));
            out.push(pick([6, 7, 9, 10]));
            out.push(pick([7, 9, 10, 11]));
            out.push(pick([9, 10, 11, 12]));
        }
    }
    if s[0] == 0x2002 {
        out.push(Ipv4Addr::new(b[2], b[3], b[4], b[5]));
    }
    if s[0] == 0x2001 && s[1] == 0 {
        out.push(Ipv4Addr::new(b[4], b[5], b[6], b[7]));
        out.push(Ipv4Addr::new(!b[12], !b[13], !b[14], !b[15]));
    }
    out
}

#[cfg(test)]
#[path = "url_tests.rs"]
mod tests;
