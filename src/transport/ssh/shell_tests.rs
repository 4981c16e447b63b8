//! Kept host-side shells ([`super::super::shell`]) against a real OpenSSH server: reuse,
//! exact output and status, recovery after a timeout or a cancellation, the linger bound,
//! and the one-channel-per-command mode.
use super::*;

/// `(pid, ppid, comm)` rows of `ps -eo pid,ppid,comm`.
fn rows(ps: &str) -> Vec<(u32, u32, String)> {
    ps.lines()
        .skip(1)
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((
                w.next()?.parse().ok()?,
                w.next()?.parse().ok()?,
                w.next()?.to_string(),
            ))
        })
        .collect()
}

/// The process that started the `timeout` the listing's own `ps` ran under: its pid and name.
async fn launcher(t: &SshTransport) -> (u32, String) {
    let out = t
        .exec(&cmd(&["ps", "-eo", "pid,ppid,comm"]), &opts(10, 1 << 20))
        .await
        .unwrap();
    let rows = rows(&out.stdout);
    let by_pid = |p: u32| rows.iter().find(|r| r.0 == p).cloned();
    // The newest `ps` whose parent is a `timeout` (other tests may run ps at the same time).
    let (_, timeout_pid, _) = rows
        .iter()
        .filter(|r| r.2 == "ps")
        .find(|r| by_pid(r.1).is_some_and(|p| p.2 == "timeout"))
        .cloned()
        .unwrap_or_else(|| panic!("no ps under timeout in:\n{}", out.stdout));
    let (_, launcher, _) = by_pid(timeout_pid).unwrap();
    let name = by_pid(launcher).map(|r| r.2).unwrap_or_default();
    (launcher, name)
}

fn shells_under(sshd: &Sshd) -> Vec<u32> {
    sshd::descendants(sshd.pid().unwrap())
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sh")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_share_one_host_shell_which_ends_after_its_linger() {
    let f = Fixture::new(Sshd::start());
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    let (first, name) = launcher(&t).await;
    assert_eq!(name, "sh", "the first command ran under {name}");
    let (second, _) = launcher(&t).await;
    assert_eq!(first, second, "the second command started a new shell");
    // The prelude's environment reaches every command (LC_ALL=C set once, not per command).
    let env = t.exec(&cmd(&["env"]), &opts(10, 1 << 20)).await.unwrap();
    assert!(
        env.stdout.lines().any(|l| l == "LC_ALL=C"),
        "{}",
        env.stdout
    );
    assert!(shells_under(&f.sshd).contains(&first));
    // Idle past its linger, the shell is gone while the connection stays up.
    tokio::time::sleep(shell::LINGER + Duration::from_millis(1500)).await;
    assert_eq!(shells_under(&f.sshd), Vec::<u32>::new());
    let (third, _) = launcher(&t).await;
    assert_ne!(third, first);
    t.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_host_shells_off_each_command_gets_its_own_channel() {
    let f = Fixture::new(Sshd::start());
    let mut cfg = f.config();
    cfg.limits.host_shells = false;
    let (t, _) = connect_no_agent(&spec(&f.sshd), &cfg).await.unwrap();
    let (_, name) = launcher(&t).await;
    assert!(name.starts_with("sshd"), "ran under {name}");
    assert_eq!(shells_under(&f.sshd), Vec::<u32>::new());
    t.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_status_and_streams_are_exact_on_a_kept_shell() {
    let f = Fixture::new(Sshd::start());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spoof");
    // Text that looks like tai's end marker, without a final newline.
    std::fs::write(
        &file,
        "a\n__tai_end_0000_1_0\nprintf '%s' x >&2\nno newline",
    )
    .unwrap();
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    for _ in 0..2 {
        let out = t
            .exec(&cmd(&["cat", file.to_str().unwrap()]), &opts(10, 1 << 20))
            .await
            .unwrap();
        assert_eq!(
            out.stdout,
            "a\n__tai_end_0000_1_0\nprintf '%s' x >&2\nno newline"
        );
        assert_eq!((out.exit_code, out.stderr.as_str()), (Some(0), ""));
        let out = t
            .exec(&cmd(&["ls", "/nonexistent-tai"]), &opts(10, 1 << 20))
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(2));
        assert!(out.stdout.is_empty());
        assert!(out.stderr.contains("No such file"), "{}", out.stderr);
    }
    t.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_or_a_cancel_leaves_the_next_command_clean() {
    let f = Fixture::new(Sshd::start());
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    let out = t
        .exec(&cmd(&["sleep", "30"]), &opts(1, 4096))
        .await
        .unwrap();
    assert!(out.timed_out && out.exit_code.is_none(), "{out:?}");
    let out = t
        .exec(&cmd(&["uname", "-s"]), &opts(10, 4096))
        .await
        .unwrap();
    assert_eq!((out.stdout.as_str(), out.exit_code), ("Linux\n", Some(0)));

    let cancelled = opts(30, 4096);
    let token = cancelled.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel();
    });
    let started = Instant::now();
    let out = t.exec(&cmd(&["sleep", "30"]), &cancelled).await.unwrap();
    assert!(out.cancelled && started.elapsed() < Duration::from_secs(5));
    let out = t
        .exec(&cmd(&["uname", "-s"]), &opts(10, 4096))
        .await
        .unwrap();
    assert_eq!((out.stdout.as_str(), out.exit_code), ("Linux\n", Some(0)));
    t.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_command_runs_only_when_every_guard_answers_as_expected() {
    use crate::transport::{Expect, Guard, Guarded};
    let f = Fixture::new(Sshd::start());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, "plain text\n").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    let resolves_to_itself = |p: &Path| Guard {
        cmd: cmd(&["readlink", "-m", "--", p.to_str().unwrap()]),
        expect: Expect::Stdout(format!("{}\n", p.display())),
    };
    let no_match = |p: &Path| Guard {
        cmd: cmd(&["grep", "-q", "-F", "-e", "text", "--", p.to_str().unwrap()]),
        expect: Expect::Status(1),
    };
    let read = |p: &Path| cmd(&["cat", p.to_str().unwrap()]);
    let o = opts(10, 1 << 20);

    // Both guards hold (the resolver prints the path itself, grep finds nothing).
    let none = dir.path().join("none");
    std::fs::write(&none, "nothing here\n").unwrap();
    match t
        .exec_guarded(
            &[resolves_to_itself(&none), no_match(&none)],
            &read(&none),
            &o,
        )
        .await
        .unwrap()
    {
        Guarded::Ran(out) => assert_eq!(
            (out.stdout.as_str(), out.exit_code),
            ("nothing here\n", Some(0))
        ),
        other => panic!("{other:?}"),
    }
    // A symlink resolves elsewhere: the first guard fails, nothing else runs.
    match t
        .exec_guarded(
            &[resolves_to_itself(&link), no_match(&link)],
            &read(&link),
            &o,
        )
        .await
        .unwrap()
    {
        Guarded::Missed { ran } => assert_eq!(ran, 1),
        other => panic!("{other:?}"),
    }
    // The second guard fails (grep finds the text): the command does not run.
    match t
        .exec_guarded(
            &[resolves_to_itself(&file), no_match(&file)],
            &read(&file),
            &o,
        )
        .await
        .unwrap()
    {
        Guarded::Missed { ran } => assert_eq!(ran, 2),
        other => panic!("{other:?}"),
    }
    // A path with a quote, spaces and a trailing newline in its name is compared exactly.
    let odd = dir.path().join("it's a\nname\n");
    std::fs::write(&odd, "odd\n").unwrap();
    match t
        .exec_guarded(&[resolves_to_itself(&odd)], &read(&odd), &o)
        .await
        .unwrap()
    {
        Guarded::Ran(out) => assert_eq!(out.stdout, "odd\n"),
        other => panic!("{other:?}"),
    }
    // With shells off the transport says so and runs nothing.
    let mut cfg = f.config();
    cfg.limits.host_shells = false;
    let (off, _) = connect_no_agent(&spec(&f.sshd), &cfg).await.unwrap();
    assert!(matches!(
        off.exec_guarded(&[resolves_to_itself(&none)], &read(&none), &o)
            .await
            .unwrap(),
        Guarded::Unsupported
    ));
    t.close().await;
    off.close().await;
}
