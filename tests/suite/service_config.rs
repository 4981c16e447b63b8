//! `service_config` through real transports (local, and a loopback OpenSSH sshd): a real
//! nginx-like tree in a temp dir (globs, a symlinked site, a nested include cycle, an include
//! of a secret, a private key next to the config), expanded depth-first through
//! policy-checked reads; the key is never read and secrets are refused.
use crate::support::tool_samples;

use std::os::unix::fs::symlink;
use std::path::Path;

use crate::support::context::{local_context, ssh_context};
use crate::support::sshd::Sshd;
use serde_json::json;
use tai::tools::{execute, CallStatus, ExecContext, Registry, ToolCall, ToolOutcome};

const MARKER: &str = "TAIKEYMARKER7f3c";

async fn call(ctx: &ExecContext, args: serde_json::Value) -> ToolOutcome {
    let call = ToolCall {
        id: "T1".into(),
        tool: "service_config".into(),
        args,
    };
    execute(ctx, &Registry::builtin(), &call).await.unwrap()
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// An nginx tree like Debian's, with traps.
fn nginx_tree(root: &Path) {
    write(
        root,
        "nginx.conf",
        "# main file comment\nuser www-data;\ninclude modules-enabled/*.conf;\nhttp {\n    include mime.types;\n    include conf.d/*.conf;\n    include sites-enabled/*;\n    ssl_certificate_key ssl/server.key;\n}\n",
    );
    write(
        root,
        "modules-enabled/50-mod-stream.conf",
        "load_module modules/ngx_stream_module.so;\n",
    );
    write(root, "mime.types", "types { text/html html; }\n");
    write(
        root,
        "conf.d/a.conf",
        "upstream app { server 127.0.0.1:8080; }\n",
    );
    write(
        root,
        "conf.d/b.conf",
        "include snippets/loop.conf;\nproxy_read_timeout 30s;\n",
    );
    write(root, "conf.d/readme.txt", "not a config\n");
    write(root, "conf.d/.hidden.conf", "hidden\n");
    write(
        root,
        "snippets/loop.conf",
        "include conf.d/b.conf;\ninclude /etc/shadow;\ngzip on;\n",
    );
    write(
        root,
        "sites-available/default",
        "server { listen 80 default_server; }\n",
    );
    std::fs::create_dir_all(root.join("sites-enabled")).unwrap();
    symlink(
        "../sites-available/default",
        root.join("sites-enabled/default"),
    )
    .unwrap();
    write(
        root,
        "ssl/server.key",
        &format!("-----BEGIN PRIVATE KEY-----\n{MARKER}\n-----END PRIVATE KEY-----\n"),
    );
}

async fn nginx_tree_is_expanded(ctx: &ExecContext) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    nginx_tree(root);
    let main = root.join("nginx.conf").display().to_string();
    let out = call(ctx, json!({"service": "nginx", "path": main})).await;
    let text = &out.output;
    assert_eq!(out.status, CallStatus::Ok, "{text}");
    let r = root.display();
    let order = [
        format!("# file: {r}/nginx.conf"),
        format!("# file: {r}/modules-enabled/50-mod-stream.conf"),
        format!("# file: {r}/mime.types"),
        format!("# file: {r}/conf.d/a.conf"),
        format!("# file: {r}/conf.d/b.conf"),
        format!("# file: {r}/snippets/loop.conf"),
        format!("# file: {r}/sites-enabled/default"),
    ];
    let mut at = 0;
    for header in &order {
        let i = text[at..]
            .find(header.as_str())
            .unwrap_or_else(|| panic!("{header} missing or out of order:\n{text}"));
        at += i + header.len();
    }
    assert!(
        text.contains("# main file comment"),
        "comments kept: {text}"
    );
    assert!(text.contains("listen 80 default_server"), "{text}");
    assert!(
        !text.contains("not a config") && !text.contains("hidden\n"),
        "{text}"
    );
    assert!(text.contains("included again"), "cycle guard: {text}");
    assert!(
        text.contains("refused by the policy"),
        "/etc/shadow include: {text}"
    );
    assert!(!text.contains(MARKER), "the key was read: {text}");
    assert!(!text.contains("root:"), "{text}");
    for rec in &out.commands {
        assert!(
            rec.command.starts_with("cat -- ") || rec.command.starts_with("ls -1p -- "),
            "{}",
            rec.command
        );
        assert!(!rec.stdout.contains(MARKER));
        assert!(!rec.command.contains("server.key"), "{}", rec.command);
    }
    assert_eq!(
        out.commands
            .iter()
            .filter(|c| c.command.starts_with("cat"))
            .count(),
        8,
        "7 files + the refused /etc/shadow: {text}"
    );

    // A missing main file is an error that says what to do.
    let out = call(
        ctx,
        json!({"service": "nginx", "path": format!("{r}/missing.conf")}),
    )
    .await;
    assert_eq!(out.status, CallStatus::Error, "{}", out.output);
    assert!(out.output.contains("pass `path`"), "{}", out.output);
}

#[tokio::test]
async fn nginx_tree_through_the_local_transport() {
    let ctx = local_context().await;
    nginx_tree_is_expanded(&ctx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_tree_and_sshd_config_over_ssh() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let ctx = ssh_context(home.path(), &sshd).await;
    nginx_tree_is_expanded(&ctx).await;
    // The host's own sshd configuration (the sample the registry tests use).
    let out = call(&ctx, tool_samples::sample_args("service_config")).await;
    assert_eq!(out.status, CallStatus::Ok, "{}", out.output);
    assert!(
        out.output.contains("# file: /etc/ssh/sshd_config"),
        "{}",
        out.output
    );
    assert!(!out.output.contains("PRIVATE KEY-----\n"), "{}", out.output);
}

#[test]
fn unknown_services_and_relative_paths_are_argument_errors() {
    let facts = tai::tools::HostFacts::default();
    let tool = Registry::builtin();
    let tool = tool.get("service_config").unwrap();
    assert!(tool
        .render(&json!({"service": "mysql"}), &facts)
        .unwrap_err()
        .to_string()
        .contains("invalid arguments"));
    assert!(tool
        .render(&json!({"service": "nginx", "path": "nginx.conf"}), &facts)
        .unwrap_err()
        .to_string()
        .contains("absolute"));
    let steps = tool.render(&json!({"service": "apache"}), &facts).unwrap();
    assert_eq!(steps[0].argv, ["cat", "--", "/etc/apache2/apache2.conf"]);
}

/// A RHEL-like Apache tree: `ServerRoot`, a directory `Include`, `IncludeOptional` globs, a
/// glob that matches nothing, and an include nested deeper than the limit.
#[tokio::test]
async fn apache_tree_through_the_local_transport() {
    let ctx = local_context().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let r = root.display();
    write(
        root,
        "conf/httpd.conf",
        &format!("ServerRoot \"{r}\"\nListen 80\nInclude conf.modules.d/*.conf\nInclude extra/\nIncludeOptional conf.d/*.conf\nIncludeOptional nothing.d/*.conf\nInclude deep/0.conf\n"),
    );
    write(
        root,
        "conf.modules.d/00-base.conf",
        "LoadModule a_module modules/mod_a.so\n",
    );
    write(root, "extra/one.conf", "# one\n");
    write(root, "extra/sub/two.conf", "# two\n");
    // A directory symlink back to its parent: bounded by the depth limit, never a loop.
    symlink("..", root.join("extra/sub/up")).unwrap();
    write(
        root,
        "conf.d/ssl.conf",
        "SSLCertificateKeyFile /etc/pki/tls/private/localhost.key\n",
    );
    for i in 0..12 {
        write(
            root,
            &format!("deep/{i}.conf"),
            &format!("Include deep/{}.conf\n", i + 1),
        );
    }
    let out = call(
        &ctx,
        json!({"service": "apache", "path": format!("{r}/conf/httpd.conf")}),
    )
    .await;
    let text = &out.output;
    assert_eq!(out.status, CallStatus::Ok, "{text}");
    let mut at = 0;
    for f in [
        "conf/httpd.conf",
        "conf.modules.d/00-base.conf",
        "extra/one.conf",
        "extra/sub/two.conf",
        "conf.d/ssl.conf",
        "deep/0.conf",
        "deep/7.conf",
    ] {
        let header = format!("# file: {r}/{f}");
        let i = text[at..]
            .find(header.as_str())
            .unwrap_or_else(|| panic!("{header} missing or out of order:\n{text}"));
        at += i + header.len();
    }
    assert!(
        !text.contains(&format!("# file: {r}/deep/8.conf")),
        "{text}"
    );
    assert!(text.contains("deeper than 8 levels"), "{text}");
    let reads = out
        .commands
        .iter()
        .filter(|c| c.command.starts_with("cat"))
        .count();
    assert!(reads <= 64, "{reads} reads");
    assert!(
        !text.contains("nothing.d/*.conf: no file matches"),
        "optional: {text}"
    );
    assert!(
        !out.commands
            .iter()
            .any(|c| c.command.contains("localhost.key")),
        "only includes are followed: {text}"
    );
}
