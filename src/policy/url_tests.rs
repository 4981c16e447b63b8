//! Tests of the URL and host checks (`super`): every spelling of a metadata address refused,
//! everyday probes allowed, and the policy rules that use these checks.
use super::*;

#[test]
fn metadata_urls_are_refused_in_every_spelling() {
    for bad in [
        "http://169.254.169.254/latest/meta-data/",
        "HTTP://169.254.169.254/",
        "hTTps://169.254.169.254/",
        "http://169.254.169.254./",
        "http://169.254.169.254:80/",
        "http://2852039166/",
        "http://0xa9fea9fe/",
        "http://0XA9FEA9FE/",
        "http://0251.0376.0251.0376/",
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://169.254.43518/",
        "http://169.16689662/",
        "http://0251.254.169.254/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[::a9fe:a9fe]/",
        "http://[::169.254.169.254]/",
        "http://[::ffff:0:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b::169.254.169.254]/",
        "http://[64:ff9b:1:a9fe:a9fe::]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[fd00:ec2::254]/",
        "http://[FD00:EC2::254]/latest/",
        "http://[fe80::1%25eth0]/",
        "http://[fe80::a9fe:a9fe]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.GOOGLE.INTERNAL./",
        "http://metadata/",
        "http://metadata./computeMetadata/v1/",
        "http://instance-data.ec2.internal/",
        "http://100.100.100.200/latest/meta-data/",
        "http://168.63.129.16/machine?comp=goalstate",
        "http://169.254.170.2/v2/credentials/x",
        "http://169.254.169.254.nip.io/",
        "http://169-254-169-254.sslip.io/",
        "http://a9fea9fe.nip.io/",
        "http://x@169.254.169.254/",
        "http://169.254.169.254@/",
        "http://user:pass@localhost/",
        "http://localhost@169.254.169.254/",
        "http://%31%36%39.254.169.254/",
        "http://169.254.169%2e254/",
        "http:\\\\169.254.169.254\\",
        "http://localhost\\@169.254.169.254/",
        "http://169.254.169.254 /",
        "http://0x1a9fea9fe/",
        "http://4294967296/",
        "http://1.2.3.4.5/",
        "ftp://example.com/",
        "file:///etc/shadow",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "dict://localhost:11211/stats",
        "localhost/",
        "http:/169.254.169.254/",
        "http:///169.254.169.254/",
        "http://",
        "http://:80/",
        "http://x:99999/",
        "http://x:8o/",
        "http://[::1/",
        "http://[::1]x/",
        "http://{169.254.169.254,localhost}/",
        "http://localhost/[1-100000]",
        "http://localhost/{a,b}",
        "http://ｌｏｃａｌｈｏｓｔ/",
    ] {
        assert!(check_url(bad).is_err(), "{bad} was allowed");
    }
}

#[test]
fn everyday_urls_are_allowed() {
    for ok in [
        "http://localhost/",
        "http://localhost",
        "https://example.com/health?full=1#x",
        "http://127.0.0.1:8080/health",
        "HTTP://LOCALHOST:8080/",
        "http://10.0.0.5:9100/metrics",
        "http://[::1]:8080/",
        "http://[2001:db8::5]/",
        "http://[::ffff:10.0.0.5]/",
        "http://db01.internal:5984/_up",
        "http://ip-10-0-0-5.ec2.internal/",
        "http://localhost:/",
        "https://api.example.com/v1/status?x=a%20b",
        "http://2130706433/",
        "http://0/",
    ] {
        assert_eq!(check_url(ok), Ok(()), "{ok}");
    }
}

#[test]
fn hosts() {
    for bad in [
        "169.254.169.254",
        "169.254.169.254.",
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "169.254.43518",
        "::ffff:169.254.169.254",
        "::ffff:a9fe:a9fe",
        "::a9fe:a9fe",
        "64:ff9b::a9fe:a9fe",
        "fe80::1%eth0",
        "fe80::1",
        "fd00:ec2::254",
        "[fd00:ec2::254]",
        "metadata",
        "metadata.google.internal",
        "Metadata.Google.Internal.",
        "@169.254.169.254",
        "",
        "a b",
        "x/y",
        "a..b",
        "1.2.3.4.5",
        "09.1.1.1",
        "-",
        "x.-y",
        "169.254.169.254:53",
        "::ffff:a9fe:a9fe:443",
        "@[fd00:ec2::254]:53",
    ] {
        assert!(check_host(bad).is_err(), "{bad:?} was allowed");
    }
    for ok in [
        "db01",
        "db01.internal.",
        "example.com",
        "10.0.0.5",
        "8.8.8.8",
        "::1",
        "2001:db8::1",
        "@10.0.0.53",
        "_sip._tcp.example.com",
        ".",
        "ip-10-0-0-5",
        "example.com:443",
        "[::1]:443",
    ] {
        assert_eq!(check_host(ok), Ok(()), "{ok}");
    }
}

#[test]
fn host_ports() {
    for bad in [
        "169.254.169.254:80",
        "[fd00:ec2::254]:80",
        "::ffff:a9fe:a9fe:443",
        "metadata.google.internal:80",
        "0xa9fea9fe:443",
        "fe80::1",
        "x:99999",
        "x@y:443",
    ] {
        assert!(check_host_port(bad).is_err(), "{bad:?} was allowed");
    }
    for ok in [
        "example.com:443",
        "example.com",
        "10.0.0.5:8443",
        "[::1]:443",
        "db01:https",
        "localhost:imaps",
    ] {
        assert_eq!(check_host_port(ok), Ok(()), "{ok}");
    }
}

#[test]
fn curl_text() {
    for bad in [
        "@/etc/hosts",
        "%output{/etc/cron.d/x}%{http_code}",
        "%OUTPUT{>>/tmp/x}",
        "X-A: 1\r\nX-B: 2",
        "Host: 169.254.169.254",
        "host:metadata.google.internal",
        "HOST: [fd00:ec2::254]:80",
    ] {
        assert!(check_curl_text(bad).is_err(), "{bad:?} was allowed");
    }
    for ok in [
        "%{http_code}\\n",
        "Host: example.com",
        "Host: example.com:8080",
        "Accept: */*",
        "tai/1.0",
    ] {
        assert_eq!(check_curl_text(ok), Ok(()), "{ok}");
    }
}

/// The policy's network rules put these checks to use: tai adds `curl -q` (no ~/.curlrc)
/// and `dig -r` (no ~/.digrc) first, and refuses metadata in option values too.
#[test]
fn network_rules_use_these_checks() {
    let policy = crate::policy::Policy::load(false).unwrap();
    let argv = |l: &str| shell_words::split(l).unwrap();
    let run = policy.approve(&argv("curl -sI http://localhost/")).unwrap();
    assert_eq!(run.argv()[..5], ["curl", "-q", "--noproxy", "*", "-sI"]);
    let run = policy
        .approve(&argv("dig +short +time=2 example.com"))
        .unwrap();
    assert_eq!(run.argv()[..2], ["dig", "-r"]);
    for bad in [
        "curl -sI http://0xa9fea9fe/",
        "curl -w %output{/tmp/x} http://localhost/",
        "openssl s_client -connect ::ffff:a9fe:a9fe:80",
        "dig @2852039166 example.com",
        "ping -c 1 169.254.169.254.nip.io",
    ] {
        assert!(policy.approve(&argv(bad)).is_err(), "{bad}");
    }
}

#[test]
fn names_for_host_side_resolution() {
    assert_eq!(
        names_to_resolve("http://DB01.internal:8080/x", true),
        ["db01.internal"]
    );
    assert!(names_to_resolve("http://10.0.0.5/", true).is_empty());
    assert!(names_to_resolve("http://[::1]:80/", true).is_empty());
    assert_eq!(names_to_resolve("example.com:443", false), ["example.com"]);
    assert_eq!(
        names_to_resolve("@ns1.example.com.", false),
        ["ns1.example.com"]
    );
    assert!(names_to_resolve("2001:db8::1", false).is_empty());
}

#[test]
fn getent_output_is_checked_address_by_address() {
    let good = "10.0.0.5       STREAM db01.internal\n10.0.0.5       DGRAM  \n::1  RAW \n";
    assert_eq!(check_resolved_addresses(good), Ok(()));
    assert_eq!(check_resolved_addresses(""), Ok(()));
    for bad in [
        "10.0.0.5 STREAM a\n169.254.169.254 STREAM evil.example\n",
        "fd00:ec2::254 STREAM x\n",
        "::ffff:169.254.169.254 STREAM x\n",
        "[REDACTED:x] STREAM y\n",
    ] {
        assert!(check_resolved_addresses(bad).is_err(), "{bad}");
    }
}

#[test]
fn curl_urls_are_pinned_to_the_checked_addresses() {
    let argv: Vec<String> = [
        "curl",
        "-q",
        "-sI",
        "https://API.example.com./v1",
        "http://db01:5984/",
        "--url=http://db01:5984/x",
        "http://10.0.0.5/",
        "http://unresolved/",
    ]
    .map(String::from)
    .to_vec();
    let resolved = vec![
        (
            "api.example.com".to_string(),
            vec!["10.0.0.7".parse().unwrap(), "2001:db8::7".parse().unwrap()],
        ),
        ("db01".to_string(), vec!["10.0.0.8".parse().unwrap()]),
    ];
    assert_eq!(
        curl_pins(&argv, &resolved),
        [
            "--resolve",
            "api.example.com:443:10.0.0.7,[2001:db8::7]",
            "--resolve",
            "API.example.com.:443:10.0.0.7,[2001:db8::7]",
            "--resolve",
            "db01:5984:10.0.0.8"
        ]
    );
}

#[test]
fn resolved_addresses() {
    assert!(check_ip("169.254.169.254".parse().unwrap()).is_err());
    assert!(check_ip("::ffff:169.254.169.254".parse().unwrap()).is_err());
    assert!(check_ip("2001:0:4136:e378:8000:63bf:5601:5601".parse().unwrap()).is_err());
    assert!(check_ip("10.0.0.1".parse().unwrap()).is_ok());
    assert!(check_ip("2001:db8::1".parse().unwrap()).is_ok());
}
