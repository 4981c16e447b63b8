//! Unit tests of the evaluator's getopt semantics against an inline policy.
use super::*;

const MINI: &str = r#"
trusted_dirs = ["/usr/bin"]

[[deny_program]]
id = "deny-sh"
programs = ["sh"]
reason = "shell"

[[path_rule]]
id = "secret"
deny = ["/secret", "/secret/**"]
reason = "secret"

[recursive_guard]
id = "rec"
allow_under = ["/logs"]
protect = []
inside = []
reason = "logs only"

[[command]]
id = "tool"
programs = ["tool"]
positional = ["path"]
recursive_options = ["-r"]
recursive_adds = ["--exclude=*.key"]
options = { "-a" = "flag", "-b" = "flag", "-r" = "flag", "-n" = "number", "-o" = "number?", "--long" = "any", "--flag" = "flag", "-NUM" = "flag", "-wide" = "word",
  "--color" = "enum:never?", "-k" = "signed?next", "--boot" = "signed?next", "-e" = "pattern", "--regexp" = "pattern", "-t" = "text",
  "--list" = "word", "--file" = "path", "--walk" = "dir", "-h" = "host" }
deny_options = { "-x" = "executes", "--exec*" = "executes", "--files0-from" = "reads a file list", "+*" = "obsolete syntax" }

[[command]]
id = "finder"
programs = ["finder"]
clusters = false
positional = ["path"]
options = { "-name" = "text" }
deny_options = { "-delete" = "deletes" }

[[command]]
id = "multi"
programs = ["multi"]
subcommand_required = true
subcommands = [
  { names = ["show"], positional = ["name"], requires_any = ["--yes"], options = { "--yes" = "flag" } },
  { names = ["list"] },
]

"#;

fn rules() -> Rules {
    Rules::compile(toml::from_str(MINI).unwrap()).unwrap()
}

fn eval(line: &str) -> Result<String, Refusal> {
    rules().evaluate(&shell_words::split(line).unwrap())
}

#[test]
fn getopt_shapes_are_understood() {
    for ok in [
        "tool -ab /x",
        "tool -an5 /x",
        "tool -n 5 /x",
        "tool -o /x",
        "tool -o 7 /x",
        "tool --long=v /x",
        "tool --long v",
        "tool --flag -- /x",
        "tool -100 /x",
        "tool -wide=abc /x",
        "/usr/bin/tool /x",
    ] {
        assert_eq!(eval(ok), Ok("tool".into()), "{ok}");
    }
    let refused = [
        ("tool -ax /x", "executes"),
        ("tool --exec-program=x /x", "executes"),
        ("tool --flag=1 /x", "takes no value"),
        ("tool -n", "needs a value"),
        ("tool -n -x", "looks like an option"),
        ("tool -n abc", "must be a number"),
        ("tool -q /x", "not on the read-only allowlist"),
        ("tool -- /secret/x", "secret"),
        ("tool /secret/a", "secret"),
        ("tool --long=/secret", "secret"),
        ("tool -r /etc", "logs only"),
        ("/tmp/tool /x", "system directory"),
        ("sh -c id", "shell"),
        ("nope", "not on the read-only allowlist"),
    ];
    for (line, why) in refused {
        let r = eval(line).expect_err(line);
        assert!(r.reason.contains(why), "{line}: {}", r.reason);
    }
    assert!(eval("tool -r /logs/app").is_ok());
    let r = rules()
        .evaluate(&["tool".into(), "a\u{1}b".into()])
        .unwrap_err();
    assert!(r.reason.contains("control character"), "{}", r.reason);
}

#[test]
fn subcommands_and_scoped_requirements() {
    assert_eq!(eval("multi list"), Ok("multi".into()));
    assert_eq!(eval("multi show --yes web"), Ok("multi".into()));
    let r = eval("multi show web").unwrap_err();
    assert!(r.reason.contains("needs one of --yes"), "{}", r.reason);
    let r = eval("multi").unwrap_err();
    assert!(
        r.reason.contains("needs a read-only subcommand"),
        "{}",
        r.reason
    );
    let r = eval("multi delete x").unwrap_err();
    assert!(
        r.reason.contains("not an allowed subcommand"),
        "{}",
        r.reason
    );
    let r = eval("multi show --yes ../x").unwrap_err();
    assert!(r.reason.contains("bare name"), "{}", r.reason);
    let r = eval("multi list extra").unwrap_err();
    assert!(r.reason.contains("takes no arguments"), "{}", r.reason);
}

fn verdict(line: &str) -> Result<Verdict, Refusal> {
    rules().decide(&shell_words::split(line).unwrap(), None)
}

fn refused(line: &str, why: &str) {
    let r = eval(line).expect_err(line);
    assert!(r.reason.contains(why), "{line}: {}", r.reason);
}

#[test]
fn there_is_no_any_options_switch() {
    let text = MINI.replace("id = \"finder\"", "id = \"finder\"\nany_options = true");
    assert_ne!(text, MINI);
    let err = toml::from_str::<PolicyFile>(&text).unwrap_err().to_string();
    assert!(err.contains("any_options"), "{err}");
}

#[test]
fn optional_values_are_only_attached() {
    // `--color[=WHEN]`: the next word is an operand, never the option's value.
    refused("tool --color /secret/x", "secret");
    assert!(eval("tool --color=never /x").is_ok());
    refused("tool --color=always /x", "must be one of");
    assert_eq!(verdict("tool --color /logs/a").unwrap().paths, ["/logs/a"]);
    // Short optional value: only the rest of the cluster.
    assert!(eval("tool -o7 /x").is_ok());
    assert_eq!(verdict("tool -o 7").unwrap().paths, ["7"]);
    refused("tool -o /secret/x", "secret");
    assert!(eval("tool -ao7 /x").is_ok());
    refused("tool -oabc /x", "must be a number");
}

#[test]
fn optional_next_values_take_the_next_word_only_when_it_parses() {
    for ok in [
        "tool -k -1 /x",
        "tool -k 3 /x",
        "tool -k",
        "tool --boot -2",
        "tool --boot=-2 /x",
        "tool -k5",
    ] {
        assert!(eval(ok).is_ok(), "{ok}");
    }
    assert_eq!(verdict("tool -k 3 /x").unwrap().paths, ["/x"]);
    assert_eq!(verdict("tool -k /x").unwrap().paths, ["/x"]);
    refused("tool -k /secret/a", "secret");
    refused("tool -k -x", "executes");
}

#[test]
fn pattern_values_and_words_after_double_dash_may_start_with_a_dash() {
    assert!(eval("tool -e -foo /x").is_ok());
    assert!(eval("tool --regexp -foo /x").is_ok());
    assert!(eval("tool --regexp=-foo /x").is_ok());
    assert!(eval("tool -e--bar /x").is_ok());
    refused("tool -t -x /x", "looks like an option");
    refused("tool --list -x", "looks like an option");
    assert!(eval("tool -t=x /x").is_ok());
    assert_eq!(verdict("tool -- -x /y").unwrap().paths, ["-x", "/y"]);
    refused("tool -- /secret/x", "secret");
    refused("tool -- --long=/secret/y", "secret");
}

#[test]
fn short_clusters_follow_getopt() {
    // A required value takes the rest of the cluster or the next word.
    assert_eq!(verdict("tool -abn5 /x").unwrap().paths, ["/x"]);
    assert_eq!(verdict("tool -abn 5 /x").unwrap().paths, ["/x"]);
    refused("tool -abn /x", "must be a number");
    refused("tool -ab -x", "executes");
    assert!(eval("tool -tab /x").is_ok());
    refused("tool -bq", "not on the read-only allowlist");
}

#[test]
fn long_options_accept_unique_abbreviations_only() {
    assert!(eval("tool --lon=v /x").is_ok());
    assert!(eval("tool --fla /x").is_ok());
    assert!(eval("tool --wal /logs/x").is_ok());
    refused("tool --fil=/secret/a", "secret");
    // `--fi` could be --file or --files0-from (refused); `--l` --list or --long.
    refused("tool --fi=/x", "abbreviation of `--files0-from`");
    refused("tool --files=/x", "abbreviation of `--files0-from`");
    refused("tool --l=v /x", "ambiguous");
    refused("tool --ex /x", "executes");
    refused("tool --nothing /x", "not on the read-only allowlist");
    refused("tool --fla=1 /x", "takes no value");
}

#[test]
fn at_file_words_are_paths() {
    refused("tool --long=@/secret/x /y", "secret");
    refused("tool -t @/secret/x /y", "secret");
    refused("tool @/secret/x", "secret");
    let v = verdict("tool --long=@/logs/a -t @rel /logs/b").unwrap();
    assert_eq!(v.paths, ["/logs/a", "rel", "/logs/b"]);
    // A host may be `@server` (dig); it is not a file.
    let v = verdict("tool -h @ns1 /x").unwrap();
    assert_eq!(v.paths, ["/x"]);
    refused("tool -h 169.254.169.254 /x", "metadata");
}

#[test]
fn path_arguments_are_every_path_word_in_order_without_repeats() {
    let r = rules();
    let argv: Vec<String> =
        shell_words::split("tool --file=/a /b --file /c /b /a --walk /logs/d").unwrap();
    assert_eq!(r.path_arguments(&argv), ["/a", "/b", "/c", "/logs/d"]);
    let many: Vec<String> = std::iter::once("tool".to_string())
        .chain((0..100).map(|i| format!("/f{i}")))
        .collect();
    assert_eq!(r.path_arguments(&many).len(), 100);
    assert!(r
        .path_arguments(&shell_words::split("tool /secret/x").unwrap())
        .is_empty());
}

#[test]
fn recursion_is_guarded_and_gets_exclusions() {
    let v = verdict("tool -r /logs/app").unwrap();
    assert_eq!(v.run, ["tool", "-r", "/logs/app", "--exclude=*.key"]);
    let v = verdict("tool -r -- /logs/app").unwrap();
    assert_eq!(v.run, ["tool", "-r", "--exclude=*.key", "--", "/logs/app"]);
    assert_eq!(
        verdict("tool /logs/app").unwrap().run,
        ["tool", "/logs/app"]
    );
    refused("tool -r", "current directory");
    refused("tool -r logs", "recursively");
    refused("tool -r /logs/../etc", "recursively");
    refused("tool --walk /etc", "recursively");
    assert!(eval("tool --walk /logs/x").is_ok());
}

#[test]
fn resolved_paths_are_judged_too() {
    let r = rules();
    let argv = |s: &str| shell_words::split(s).unwrap();
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    // A symlink under an allowed tree pointing at a secret.
    let m = map(&[("/logs/link", "/secret/key")]);
    let e = r.decide(&argv("tool /logs/link"), Some(&m)).unwrap_err();
    assert_eq!(e.rule, "secret");
    assert!(
        e.reason.contains("/logs/link resolves to /secret/key"),
        "{}",
        e.reason
    );
    // The same through an option value and @FILE.
    assert!(r.decide(&argv("tool --file /logs/link"), Some(&m)).is_err());
    assert!(r.decide(&argv("tool -t @/logs/link /x"), Some(&m)).is_err());
    // A recursive read through a symlink to a tree outside the allowed roots.
    let m = map(&[("/logs/link-to-etc", "/etc")]);
    let e = r
        .decide(&argv("tool -r /logs/link-to-etc"), Some(&m))
        .unwrap_err();
    assert_eq!(e.rule, "rec");
    assert!(e.reason.contains("resolves to /etc"), "{}", e.reason);
    // Resolution that stays inside is fine.
    let m = map(&[("/logs/a", "/logs/b")]);
    assert!(r.decide(&argv("tool -r /logs/a"), Some(&m)).is_ok());
}

#[test]
fn double_dash_ends_options_only_for_getopt_programs() {
    refused("tool +1f /x", "obsolete syntax");
    assert_eq!(verdict("tool -- +1f").unwrap().paths, ["+1f"]);
    assert!(eval("finder /x -name a").is_ok());
    refused("finder -- -delete", "not on the read-only allowlist");
    refused("finder /x -delete", "deletes");
}

/// The real policy: recursion roots, exclusions and resolved paths.
mod real {
    use super::*;

    fn real() -> Rules {
        crate::policy::load_rules(crate::policy::POLICY_TOML).unwrap()
    }

    fn argv(s: &str) -> Vec<String> {
        shell_words::split(s).unwrap()
    }

    #[test]
    fn recursive_grep_runs_with_exclusions_only_under_allowed_roots() {
        let r = real();
        let v = r.decide(&argv("grep -rn listen /etc/nginx"), None).unwrap();
        assert_eq!(v.run[..4], argv("grep -rn listen /etc/nginx")[..]);
        assert!(
            v.run.contains(&"--exclude=*.key".to_string()),
            "{:?}",
            v.run
        );
        assert!(v.run.contains(&"--exclude-dir=private".to_string()));
        // A caller's --include cannot override tai's exclusions: they come last.
        let v = r
            .decide(&argv("grep -r --include=*.key x /etc/nginx"), None)
            .unwrap();
        let inc = v.run.iter().position(|a| a == "--include=*.key").unwrap();
        let exc = v.run.iter().position(|a| a == "--exclude=*.key").unwrap();
        assert!(inc < exc, "{:?}", v.run);
        // Not recursive: nothing added.
        let v = r
            .decide(&argv("grep x /etc/nginx/nginx.conf"), None)
            .unwrap();
        assert_eq!(v.run, argv("grep x /etc/nginx/nginx.conf"));
        for line in [
            "grep -r x /etc",
            "grep -r x /root",
            "grep -r x /",
            "grep -R x /var/log",
            "grep -r x /etc/nginx/ssl",
            "grep --color -r x /etc",
            "zcat -r /etc",
            "rgrep x /home",
        ] {
            assert!(r.decide(&argv(line), None).is_err(), "{line}");
        }
    }

    #[test]
    fn recheck_follows_the_host_resolution() {
        let r = real();
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let m = map(&[("/var/log/link-to-etc", "/etc")]);
        let e = r
            .decide(&argv("grep -r x /var/log/link-to-etc"), Some(&m))
            .unwrap_err();
        assert!(
            e.reason.contains("/var/log/link-to-etc (resolves to /etc)"),
            "{}",
            e.reason
        );
        let m = map(&[("/var/run/../etc/shadow", "/etc/shadow")]);
        assert!(r
            .decide(&argv("cat /var/run/../etc/shadow"), Some(&m))
            .is_err());
        let m = map(&[("app.log", "/root/.ssh/id_rsa")]);
        let e = r.decide(&argv("tail -n 5 app.log"), Some(&m)).unwrap_err();
        assert!(
            e.reason.contains("app.log resolves to /root/.ssh/id_rsa"),
            "{}",
            e.reason
        );
        // /proc/PID/cwd may be listed, its target re-checked like any directory.
        let m = map(&[("/proc/1/cwd", "/root")]);
        assert!(r.decide(&argv("ls -l /proc/1/cwd"), Some(&m)).is_ok());
        assert!(r.decide(&argv("cat /proc/1/exe"), None).is_err());
        let m = map(&[("/var/log/syslog", "/var/log/syslog")]);
        assert!(r
            .decide(&argv("grep -i oom /var/log/syslog"), Some(&m))
            .is_ok());
    }

    #[test]
    fn path_arguments_cover_operands_option_values_and_at_files() {
        let r = real();
        assert_eq!(
            r.path_arguments(&argv(
                "grep -f /etc/pats --file=/etc/p2 x /var/log/a /var/log/a"
            )),
            // With -f the patterns come from files, so `x` is a file too.
            ["/etc/pats", "/etc/p2", "x", "/var/log/a"]
        );
        assert_eq!(
            r.path_arguments(&argv("grep -e x -- -odd /var/log/b")),
            ["-odd", "/var/log/b"]
        );
        assert_eq!(
            r.path_arguments(&argv("tac -s @sep.txt /var/log/c")),
            ["sep.txt", "/var/log/c"]
        );
    }
}

#[test]
fn content_paths_leave_out_metadata_only_programs() {
    let r = crate::policy::load_rules(crate::policy::POLICY_TOML).unwrap();
    let argv = |s: &str| shell_words::split(s).unwrap();
    let v = r.decide(&argv("cut -c1-5 /var/log/a.log"), None).unwrap();
    assert_eq!(v.content_paths, ["/var/log/a.log"]);
    let v = r
        .decide(&argv("grep -f /etc/pats x /var/log/b"), None)
        .unwrap();
    assert_eq!(v.content_paths, ["/etc/pats", "x", "/var/log/b"]);
    for line in [
        "ls -l /var/log",
        "stat /var/log/a",
        "du -sh /var/log",
        "find /var/log -name x",
        "file /var/log/a",
    ] {
        let v = r.decide(&argv(line), None).unwrap();
        assert!(v.content_paths.is_empty(), "{line}");
        assert!(!v.paths.is_empty(), "{line}");
    }
}
