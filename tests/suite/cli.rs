//! The real binary's command-line contract: help, config precedence, exit codes, NO_COLOR.
use crate::support;
use std::process::Command;

use crate::support::{stderr_of as stderr, stdout_of as stdout, tai_env as tai};

const SUBCOMMANDS: &[&str] = &[
    "run",
    "collect",
    "tools",
    "policy",
    "runbooks",
    "history",
    "doctor",
    "config",
    "completions",
];

#[test]
fn help_lists_every_subcommand_and_each_has_help() {
    let home = tempfile::tempdir().unwrap();
    let out = tai(home.path()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    for sub in SUBCOMMANDS {
        assert!(
            text.contains(&format!("  {sub} ")),
            "--help misses {sub}:\n{text}"
        );
        let out = tai(home.path()).args([sub, "--help"]).output().unwrap();
        assert!(
            out.status.success(),
            "tai {sub} --help failed: {}",
            stderr(&out)
        );
        assert!(
            stdout(&out).contains("Usage: tai"),
            "tai {sub} --help: {}",
            stdout(&out)
        );
    }
    for flag in [
        "--identity-file",
        "--jump-host",
        "--ignore-ssh-config",
        "--known-hosts",
        "--base-url",
        "--model",
        "--embed-model",
        "--no-rag",
        "--rag-debug",
        "--no-persist",
        "--no-llm",
        "--json",
        "--output-file",
        "--verbose",
        "--no-color",
    ] {
        assert!(text.contains(flag), "--help misses {flag}");
    }
}

fn config_json(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.args(["config", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn config_precedence_file_env_flag() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".tai")).unwrap();
    std::fs::write(
        home.path().join(".tai/config.toml"),
        "model = \"from-file\"\nbase_url = \"http://file:1/v1\"\nmax_steps = 4\n",
    )
    .unwrap();

    let v = config_json(&mut tai(home.path()));
    assert_eq!(v["model"]["model"], "from-file");
    assert_eq!(v["model"]["base_url"], "http://file:1/v1");
    assert_eq!(v["model"]["embed_model"], "nomic-embed-text");
    assert_eq!(v["sources"]["model"], "file");
    assert_eq!(v["sources"]["embed_model"], "default");

    let v = config_json(tai(home.path()).env("TAI_MODEL", "from-env"));
    assert_eq!(v["model"]["model"], "from-env");
    assert_eq!(v["model"]["max_steps"], 4, "file values survive under env");
    assert_eq!(v["sources"]["model"], "env TAI_MODEL");

    let v = config_json(tai(home.path()).env("TAI_MODEL", "from-env").args([
        "--model",
        "from-flag",
        "--max-steps",
        "7",
    ]));
    assert_eq!(v["model"]["model"], "from-flag");
    assert_eq!(v["model"]["max_steps"], 7);
    assert_eq!(v["sources"]["model"], "flag");
}

#[test]
fn bad_config_file_is_a_config_error_naming_the_file() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".tai")).unwrap();
    std::fs::write(home.path().join(".tai/config.toml"), "model = [unclosed\n").unwrap();
    let out = tai(home.path()).arg("config").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("config.toml"), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["--no-such-flag"],
        vec!["run"],
        vec!["tools", "frobnicate"],
        vec!["completions", "tcsh"],
    ] {
        let out = tai(home.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "tai {args:?}: {}", stderr(&out));
    }
    let out = tai(home.path())
        .args(["collect", "bad host name"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn bad_env_value_is_a_config_error() {
    let home = tempfile::tempdir().unwrap();
    let out = tai(home.path())
        .env("TAI_MAX_STEPS", "lots")
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("TAI_MAX_STEPS"), "{}", stderr(&out));
}

/// Run `tai doctor` under a pseudo-terminal (util-linux `script`) so colour would be used.
fn doctor_on_tty(extra_env: &[(&str, &str)]) -> String {
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_tai");
    let mut c = tai(home.path());
    c.env("TAI_BASE_URL", "http://127.0.0.1:9/v1");
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let out = c
        .args(["-qec", &format!("{bin} doctor"), "/dev/null"])
        .current_dir(home.path());
    let out = Command::new("script")
        .args(out.get_args())
        .envs(out.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .output()
        .unwrap();
    stdout(&out)
}

#[test]
fn no_color_env_and_flag_turn_colour_off_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        panic!("util-linux `script` is required for the pseudo-terminal test");
    }
    let coloured = doctor_on_tty(&[]);
    assert!(
        coloured.contains("\u{1b}["),
        "expected colour on a tty: {coloured:?}"
    );
    let plain = doctor_on_tty(&[("NO_COLOR", "1")]);
    assert!(plain.contains("model endpoint"), "{plain:?}");
    assert!(!plain.contains("\u{1b}["), "NO_COLOR ignored: {plain:?}");
}

#[test]
fn doctor_without_a_model_server_fails_fast_with_fixes() {
    let home = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let out = tai(home.path())
        .env("TAI_BASE_URL", "http://127.0.0.1:9/v1")
        .arg("doctor")
        .output()
        .unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    assert_ne!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("✗ model endpoint"), "{text}");
    assert!(text.contains("ollama serve"), "{text}");
    assert!(
        !text.contains("\u{1b}["),
        "no colour when stdout is not a terminal"
    );
}

/// Ctrl-C during `tai run` stops the turn (the model request is abandoned) and exits 130, with
/// one press and with two in a row (the second quits at once if the first has not ended it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_interrupts_tai_run_with_exit_130() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let model = support::model::ModelServer::start().await;
    // The model never answers in time.
    Mock::given(method("POST"))
        .and(path(support::model::OA_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(120))
                .set_body_json(support::model::oa_text("qwen3:4b", "late")),
        )
        .mount(&model.server)
        .await;
    let home = tempfile::tempdir().unwrap();
    for presses in [1, 2] {
        let mut child = support::tai_cmd(home.path())
            .args(["run", "local", "the disk is full", "--no-persist"])
            .args(["--base-url", &model.v1_url(), "--model", "qwen3:4b"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let out = tokio::task::spawn_blocking(move || {
            // Connected and waiting for the model by now.
            std::thread::sleep(Duration::from_secs(3));
            for _ in 0..presses {
                // SAFETY: signalling our own child process.
                unsafe { libc::kill(pid, libc::SIGINT) };
                std::thread::sleep(Duration::from_millis(100));
            }
            let started = Instant::now();
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(15),
                    "tai run did not end after Ctrl-C x{presses}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(130), "Ctrl-C x{presses}: {err}");
        assert!(err.contains("interrupted"), "{err}");
    }
}
