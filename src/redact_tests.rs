//! Tests of the redaction engine: whole texts, then the stream (chunk boundaries anywhere).
use super::*;

fn clean(input: &str, secret: &str) -> String {
    let out = redact(input);
    assert!(!out.contains(secret), "secret survived: {out}");
    assert!(out.contains("[REDACTED:"), "{out}");
    let streamed = redact_bytes(input.as_bytes());
    assert!(
        !streamed.contains(secret),
        "secret survived the stream: {streamed}"
    );
    out
}

const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----";

#[test]
fn private_keys() {
    let out = clean(
        &format!("found:\n{KEY}\nafter"),
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    );
    assert!(out.contains("after"));
    clean(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtruncated",
        "MIIEowIBAAKCAQEAtruncated",
    );
    clean(
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----",
        "MHcCAQEEIB",
    );
    clean(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGXyz\n-----END PGP PRIVATE KEY BLOCK-----",
        "lQOYBGXyz",
    );
    // Certificates and public keys are not secrets.
    let cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAV2gAwIBAgIU\n-----END CERTIFICATE-----\n";
    assert_eq!(redact(cert), cert);
    assert_eq!(redact_bytes(cert.as_bytes()), cert);
}

#[test]
fn url_passwords() {
    let out = clean(
        "DATABASE_URL postgres://app:s3cr3tP4ss@db01:5432/app",
        "s3cr3tP4ss",
    );
    assert!(
        out.contains("postgres://app:[REDACTED:password]@db01:5432/app"),
        "{out}"
    );
    clean(
        "fetching https://deploy:hunter2@git.example.com/repo.git",
        "hunter2",
    );
    assert_eq!(
        redact("see http://example.com:8080/path"),
        "see http://example.com:8080/path"
    );
}

#[test]
fn password_assignments() {
    clean("password=hunter2 user=bob", "hunter2");
    clean("PGPASSWORD='Tr0ub4dor&3' psql", "Tr0ub4dor");
    clean("{\"db_password\": \"abc123xyz\"}", "abc123xyz");
    clean("mysql_root_passwd: SuperSecret1", "SuperSecret1");
    let out = clean("client_secret=AbCdEf123456 next", "AbCdEf123456");
    assert!(out.contains("next"));
}

#[test]
fn shadow_hashes() {
    for (line, secret) in [
        (
            "root:$6$Zr4u8nQe$kF0u7p1WQ1vJx9m3cHq2QzXyVt5nUuA0bB1cC2dD3eE4fF5gG6hH7iI8jJ9kK0lL1mM2nN3oO4pP5qQ6rR7sS8:19000:0:99999:7:::",
            "kF0u7p1WQ1vJx9m3",
        ),
        ("alice:$y$j9T$F5Jx5fExrKuJdiNqLpGKE/$Qh3R2b7ZyE1c5L0XkQxq9d0Vv0m0g8QnI3wRz7s8rG5:19500:0:99999:7:::", "Qh3R2b7ZyE1c5L0X"),
        ("bob:$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW:19500::::::", "R9h/cIPz0gi"),
        ("carol:$1$saltsalt$qjJg8pBeB9rX3gQq0lqE7/:19500:0:99999:7:::", "qjJg8pBeB9rX3gQq"),
        ("dave:$5$rounds=5000$saltsalt$Q1w2E3r4T5y6U7i8O9p0:19500:0:99999:7:::", "Q1w2E3r4T5y6U7i8"),
        ("erin:!$6$abcdefgh$lockedHashValue123456:19500:0:99999:7:::", "lockedHashValue"),
        ("frank:abJnggxhB/yWI:19500:0:99999:7:::", "abJnggxhB/yWI"),
        ("htpasswd admin:$apr1$x$ ok admin:$2y$05$abcdefghijklmnopqrstuv", "abcdefghijklmnopqrstuv"),
    ] {
        let out = clean(line, secret);
        assert!(out.contains("[REDACTED:password-hash]"), "{out}");
    }
    // The account name and the ageing fields stay readable.
    let out = redact("root:$6$Zr4u8nQe$kF0u7p1WQ1vJx9m3cH:19000:0:99999:7:::");
    assert!(out.starts_with("root:"), "{out}");
    assert!(out.ends_with(":19000:0:99999:7:::"), "{out}");
    // Locked and empty fields, and passwd lines, are left alone.
    for s in [
        "daemon:*:19000:0:99999:7:::",
        "nobody:!:19000::::::",
        "root:x:0:0:root:/root:/bin/bash",
    ] {
        assert_eq!(redact(s), s);
    }
}

#[test]
fn environment_dumps() {
    for (line, secret) in [
        (
            "DB_PASSWORD=\"a long pass phrase\" PATH=/usr/bin",
            "pass phrase",
        ),
        ("GITHUB_TOKEN=abc123def456", "abc123def456"),
        (
            "Environment=API_AUTH=qwerty12345 LANG=C.UTF-8",
            "qwerty12345",
        ),
        (
            "HOME=/root\0SECRET_KEY_BASE=0a1b2c3d4e\0TERM=xterm",
            "0a1b2c3d4e",
        ),
        ("export STRIPE_KEY=rk_live_9f8e7d6c", "rk_live_9f8e7d6c"),
        ("MYSQL_PASS=Sup3r PGPASSFILE=/x", "Sup3r"),
        ("APP_PRIVATE_DATA='x y z'", "x y z"),
        ("WIFI_PSK=letmein99", "letmein99"),
        (
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI",
        ),
        ("VAULT_CREDENTIALS=s.abcdef", "s.abcdef"),
    ] {
        clean(line, secret);
    }
    let out = redact("DB_PASSWORD=\"a b\" PATH=/usr/bin LANG=C.UTF-8");
    assert!(out.ends_with("PATH=/usr/bin LANG=C.UTF-8"), "{out}");
    for s in [
        "KEYMAP=us",
        "XKBLAYOUT=de",
        "PATH=/usr/sbin:/usr/bin",
        "SHELL=/bin/bash",
    ] {
        assert_eq!(redact(s), s);
    }
}

#[test]
fn bearer_and_api_tokens() {
    clean(
        "Authorization: Bearer abcdef0123456789abcdef",
        "abcdef0123456789abcdef",
    );
    clean(
        "token ghp_1234567890abcdefghijABCDEFGHIJ123456",
        "ghp_1234567890abcdefghij",
    );
    clean(
        "export OPENAI_KEY=sk-proj-abcdefghijklmnopqrstuvwx",
        "sk-proj-abcdefghijklmnop",
    );
    clean("slack xoxb-123456789012-abcdefghijkl", "xoxb-123456789012");
    clean("api_key: 9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706");
}

#[test]
fn aws_keys() {
    clean(
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "AKIAIOSFODNN7EXAMPLE",
    );
    clean("key AKIAIOSFODNN7EXAMPLE in log", "AKIAIOSFODNN7EXAMPLE");
    clean(
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG",
    );
}

#[test]
fn jwts() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let out = clean(
        &format!("cookie session={jwt}; path=/"),
        "dozjgNryP4J3jVmNHl0w5N",
    );
    assert!(!out.contains("eyJzdWIiOiIxMjM0NTY3ODkwIn0"));
}

#[test]
fn ordinary_text_is_untouched() {
    for s in [
        "nginx: connect() failed (111: Connection refused) while connecting to upstream, upstream: \"http://127.0.0.1:8080/\"",
        "Filesystem /dev/sda1 100% /var; token bucket refilled; passwords are rotated weekly",
        "awk '{print $1$2}' cost $1 and $2",
        "Dec  2 03:00:01 web01 sshd[811]: Accepted publickey for root from 10.0.0.5 port 50122",
        "tcp LISTEN 0 511 0.0.0.0:443 0.0.0.0:* users:((\"nginx\",pid=811,fd=6))",
    ] {
        assert_eq!(redact(s), s);
        assert_eq!(redact_bytes(s.as_bytes()), s);
        assert!(findings(s).is_empty(), "{s}: {:?}", findings(s));
    }
}

#[test]
fn key_bodies_without_their_begin_line_are_still_caught() {
    let body = [
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
        "QyNTUxOQAAACDx7Gq3cQ0bF9kYwR2p+Lm/8hT1nVzXoA4uJ5iKe6sWdAAAAJgPq1RrD6tU",
        "TAIKEY721754debf018a3e000000TAIKEY721754debf018a3e000000TAIKEY72",
        "ASHyQKRGJgdZVWsyASHyQKRGJgdZVWsyASHyQKRGJgdZVWsyASHyQKRGJgdZVWsy",
    ];
    for b in body {
        let rev: String = b.chars().rev().collect();
        for shaped in [
            b.to_string(),
            format!("5: {b}"),
            format!("/var/log/app/rotated.log:{b}"),
            format!("12-{}", &b[2..]),
            rev,
            format!("{b} done"),
        ] {
            let out = redact(&shaped);
            assert!(!out.contains(&b[4..30]), "{shaped} -> {out}");
            assert!(!redact_bytes(shaped.as_bytes()).contains(&b[4..30]));
        }
    }
    // Public material and everyday long words keep their shape.
    for s in [
        "Accepted publickey for root from 10.0.0.5 port 50122 ssh2: ED25519 SHA256:nnWCdI3bdydulPA8zjLqyAVDYXpa0ytEXplov9CzelQ",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHn8vZr2q0kX4bq9Yl3sT7m1pQ6dW0eJ5uV8cR2aL9fN ops@web01",
        "/var/lib/docker/overlay2/0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4/merged",
        "/usr/share/zoneinfo/America/Argentina/ComodRivadavia",
        "/home/User/Documents/Projects2024/MyApp2/build",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Invocation ID 6f0c5e1d2b3a49f8a7e6d5c4b3a29181 started",
        "org.springframework.boot.autoconfigure.SpringBootApplication",
        "AbstractAutowireCapableBeanFactoryPostProcessor",
        "ORGFREEDESKTOPDBUSPropertiesChanged",
    ] {
        assert_eq!(redact(s), s);
    }
}

#[test]
fn begin_and_end_lines_cut_short_on_the_host_still_delimit_the_key() {
    // `cut -c1-12` of a certificate followed by a key.
    let sliced = "-----BEGIN C\nMIIBszCCAVmg\nAwIBAgIUQ2x1\n-----END CER\n-----BEGIN P\nMIIEvQIBADAN\nxSFW8cOdAz49\n-----END PRI\nafter\n";
    let out = redact_bytes(sliced.as_bytes());
    assert!(
        !out.contains("xSFW8cOdAz49") && !out.contains("MIIEvQIBADAN"),
        "{out}"
    );
    assert!(
        out.contains("MIIBszCCAVmg"),
        "certificates stay readable: {out}"
    );
    assert!(out.ends_with("after\n"), "{out}");
    for t in [
        "",
        " ",
        " R",
        " RSA PRIV",
        " OPENSSH",
        " EC PRIVATE K",
        " FOO",
    ] {
        let text = format!("x\n-----BEGIN{t}\nMIIEsecret1234\n-----END\ny\n");
        let out = redact_bytes(text.as_bytes());
        assert!(!out.contains("MIIEsecret1234"), "{t:?}: {out}");
        assert!(out.ends_with("y\n"), "{out}");
    }
    // Cut at both ends: `awk '{print substr($0, 5, 10)}'`.
    let sliced = "ted the de\n-BEGIN OPE\nbnNzaC1rZX\nZsaunkyqNd\nZsaunkyqNd\n-END OPENS\nafter\n";
    let out = redact_bytes(sliced.as_bytes());
    assert!(
        !out.contains("ZsaunkyqNd") && !out.contains("bnNzaC1rZX"),
        "{out}"
    );
    assert!(out.ends_with("after\n"), "{out}");
    for t in [" CERT", " PUBLIC K", " X509"] {
        let text = format!("-----BEGIN{t}\nMIIEpublic1234\n");
        assert!(
            redact_bytes(text.as_bytes()).contains("MIIEpublic1234"),
            "{t}"
        );
    }
}

#[test]
fn a_key_tail_without_its_begin_line_is_dropped_at_its_end_line() {
    // `tail -c 120` / `tail -n 3` of a key file: short body pieces, then the END line.
    let tail = "W8cOdAz49p6FW\nxSFW8cOdAz49p6FWq0\nAbc=\n-----END PRIVATE KEY-----\nnext\n";
    for size in [1, 3, 7, tail.len()] {
        let out = stream(tail.as_bytes(), &[size], MAX_LINE);
        assert!(!out.contains("W8cOd") && !out.contains("Abc="), "{out}");
        assert_eq!(
            out,
            "[REDACTED:private-key]\n-----END PRIVATE KEY-----\nnext\n"
        );
    }
    // A body sliced into columns (`cut -c13-24`): runs of random 12-character pieces.
    let sliced =
        "ERTIFICATE--\nRIVATE KEY--\nBgkqhkiG9w0B\nqHeqKKmkNY28\nAwIBAgIUJ0aG\nTIFICATE----\n";
    let out = redact_bytes(sliced.as_bytes());
    assert!(
        !out.contains("qHeqKKmkNY28") && !out.contains("BgkqhkiG9w0B"),
        "{out}"
    );
    assert!(out.ends_with("TIFICATE----\n"), "{out}");
    // Short words and numbers before other lines are only delayed, never dropped.
    let text = "active\n42\nenabled\nload average: 0.1\nOK\nroot\ndaemon\nwww-data\nnginx\n";
    assert_eq!(redact_bytes(text.as_bytes()), text);
    let text = "eth0\nlo\nwlan0\nens3\nbr0\nMemTotal\n";
    assert_eq!(redact_bytes(text.as_bytes()), text);
    let text = "MIIBszCCAVmg\n-----END CERTIFICATE-----\n";
    assert_eq!(redact_bytes(text.as_bytes()), text);
}

/// Stream `input` in the given chunk sizes.
fn stream(input: &[u8], chunks: &[usize], max_line: usize) -> String {
    let mut r = StreamRedactor::with_max_line(max_line);
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = chunks[i % chunks.len()].clamp(1, rest.len());
        r.push(&rest[..n], &mut out);
        rest = &rest[n..];
        i += 1;
    }
    r.finish(&mut out);
    String::from_utf8(out).unwrap()
}

fn sample() -> String {
    format!(
        "start\nuser password=hunter2x\n{KEY}\nmiddle line\nroot:$6$saltsalt$HASHVALUEHASHVALUE:19000:0:99999:7:::\n\
         -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAbody1\nMIIEowIBAAKCAQEAbody2\n\
         -----END RSA PRIVATE KEY-----\nTOKEN=tok3nvalue tail\nend"
    )
}

const SECRETS: &[&str] = &[
    "hunter2x",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    "AAAAAAABAAAAMwAAAAtzc2gtZW",
    "HASHVALUEHASHVALUE",
    "MIIEowIBAAKCAQEAbody",
    "tok3nvalue",
];

#[test]
fn every_split_point_gives_the_same_redacted_stream() {
    let input = sample();
    let whole = stream(input.as_bytes(), &[input.len()], MAX_LINE);
    for s in SECRETS {
        assert!(!whole.contains(s), "{s} survived: {whole}");
    }
    assert!(
        whole.starts_with("start\n") && whole.ends_with("tail\nend"),
        "{whole}"
    );
    assert!(whole.contains("middle line"), "{whole}");
    for a in 1..input.len() {
        assert_eq!(
            stream(input.as_bytes(), &[a, input.len()], MAX_LINE),
            whole,
            "split at {a}"
        );
    }
    for size in 1..9 {
        assert_eq!(stream(input.as_bytes(), &[size], MAX_LINE), whole);
    }
}

#[test]
fn over_long_lines_are_passed_in_pieces_without_leaking() {
    // A key inside one very long line (JSON with escaped newlines), padded so the partial-line
    // bound cuts through it at every offset.
    for pad in (0..700).step_by(7) {
        let line = format!(
            "{}{{\"key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAAS{}\\n-----END PRIVATE KEY-----\\n\",\"x\":1}}\nnext\n",
            "a".repeat(pad),
            "Q".repeat(900)
        );
        let out = stream(line.as_bytes(), &[97, 1000], 256);
        assert!(!out.contains("MIIEvQIBADANBgkq"), "pad {pad}: {out}");
        assert!(!out.contains("QQQQQQQQ"), "pad {pad}");
        assert!(out.ends_with("\"x\":1}\nnext\n"), "pad {pad}: {out}");
    }
    // Memory stays bounded: a 1 MB line without newline is passed on as it streams.
    let mut r = StreamRedactor::with_max_line(1024);
    let mut out = Vec::new();
    for _ in 0..1024 {
        r.push(&[b'x'; 1024], &mut out);
        assert!(r.pending.len() <= 1024);
    }
    r.finish(&mut out);
    assert_eq!(out.len(), 1024 * 1024);
}

#[test]
fn a_key_without_end_withholds_the_rest_and_says_so() {
    let out = stream(
        b"a\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBsecret\nmore\n",
        &[5],
        MAX_LINE,
    );
    assert!(!out.contains("MHcCAQEEIB"), "{out}");
    assert!(out.starts_with("a\n[REDACTED:private-key]"), "{out}");
    assert!(out.contains("no END line"), "{out}");
}

#[test]
fn a_begin_line_without_end_hides_at_most_a_mebibyte() {
    let mut input = b"before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretbody\n".to_vec();
    for i in 0..40_000 {
        input.extend_from_slice(
            format!("log line {i} that the BEGIN line tried to hide\n").as_bytes(),
        );
    }
    input.extend_from_slice(b"the last line\n");
    let out = stream(&input, &[65536], MAX_LINE);
    assert!(!out.contains("MIIEsecretbody"));
    assert!(
        out.contains("output resumes"),
        "{}",
        &out[..200.min(out.len())]
    );
    assert!(out.ends_with("the last line\n"));
    assert!(out.len() > input.len() - MAX_KEY_BYTES as usize - 1000);
}

fn user(patterns: &[&str]) -> Redactor {
    Redactor::with_patterns(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        .expect("patterns compile")
}

#[test]
fn user_patterns_redact_with_the_builtins() {
    let r = user(&[r"ACME-[0-9]{6}", r"(?i)project\s+bluebird"]);
    let text = "ticket ACME-123456 on Project  Bluebird, password=hunter22\nok ACME-12\n";
    let out = r.redact(text);
    assert!(!out.contains("ACME-123456"), "{out}");
    assert!(!out.to_lowercase().contains("bluebird"), "{out}");
    assert!(!out.contains("hunter22"), "built-ins still apply: {out}");
    assert_eq!(out.matches(USER_MARK).count(), 2, "{out}");
    assert!(out.contains("ok ACME-12\n"), "a near miss stays: {out}");
    // The built-ins alone leave the user's strings.
    assert!(Redactor::builtin().redact(text).contains("ACME-123456"));
    assert_eq!(Redactor::builtin().redact(text), redact(text));
}

#[test]
fn user_patterns_match_within_one_line() {
    let r = user(&[r"alpha\s+beta"]);
    assert_eq!(r.redact("alpha\nbeta\n"), "alpha\nbeta\n");
    assert_eq!(r.redact("x alpha  beta y\n"), format!("x {USER_MARK} y\n"));
}

#[test]
fn the_stream_applies_user_patterns_whatever_the_chunking() {
    let r = user(&[r"corp-[a-z]{4}-[0-9]{4}"]);
    let input = "line one corp-abcd-1234 here\nsecond corp-wxyz-9876\nlast\n".repeat(5);
    let whole = r.redact(&input);
    for chunk in [1usize, 3, 7, 64, input.len()] {
        let mut s = r.stream();
        let mut out = Vec::new();
        for piece in input.as_bytes().chunks(chunk) {
            s.push(piece, &mut out);
        }
        s.finish(&mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("corp-"), "chunk {chunk}: {out}");
        assert_eq!(out, whole, "chunk {chunk}");
    }
}

#[test]
fn bad_patterns_are_named() {
    let e = Redactor::with_patterns(&["ok".into(), "broken(".into()]).unwrap_err();
    assert_eq!(e.index, 2);
    assert_eq!(e.pattern, "broken(");
    let msg = e.to_string();
    assert!(msg.contains("broken(") && msg.contains("regex"), "{msg}");
    for everywhere in ["", "a*", "(x)?"] {
        let e = Redactor::with_patterns(&[everywhere.into()]).unwrap_err();
        assert!(e.to_string().contains("everywhere"), "{e}");
    }
    let r = user(&["a+", "b+"]);
    assert_eq!(r.patterns(), ["a+", "b+"]);
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"patterns": ["a+", "b+"]})
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn random_chunking_never_leaks(chunks in proptest::collection::vec(1usize..40, 1..8),
                                       max_line in 256usize..600) {
            let input = sample().repeat(3);
            let out = stream(input.as_bytes(), &chunks, max_line);
            for s in SECRETS {
                prop_assert!(!out.contains(s), "{} survived", s);
            }
            prop_assert_eq!(out, stream(input.as_bytes(), &[input.len()], MAX_LINE));
        }
    }
}
