//! Distribution: `tai --version`, the hidden `tai dist OUTDIR` release tarball, and the
//! container contract tested outside a container: tai as an unprivileged user (uid 10001, as in
//! the image) with only TAI_HOME writable (HOME, ~/.ssh and the working directory read-only)
//! collects over SSH from the real sshd harness and reads its history. The image itself is
//! built and smoke-tested by .ci/image.
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::support::{self, sshd::Sshd};

const UID: u32 = 10001;

fn mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every entry under `dir` (relative paths, sorted): what was written there.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn version_names_the_version_revision_build_date_and_target() {
    let home = tempfile::tempdir().unwrap();
    let out = support::tai_cmd(home.path())
        .arg("--version")
        .output()
        .unwrap();
    let text = support::stdout_of(&out);
    assert!(out.status.success(), "{text}{}", support::stderr_of(&out));
    let want = format!("tai {} (rev ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want), "{text}");
    assert!(text.contains(", built 20"), "{text}");
    assert!(text.contains("linux"), "{text}");
}

#[test]
fn dist_writes_a_tarball_with_binary_man_pages_completions_readme_license() {
    let home = tempfile::tempdir().unwrap();
    let out_dir = home.path().join("out");
    let out = support::tai_cmd(home.path())
        .arg("dist")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr_of(&out));
    let tarball = support::stdout_of(&out).trim().to_string();
    assert!(tarball.ends_with(".tar.gz"), "{tarball}");
    let x = home.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    let name = format!("tai-{}-", env!("CARGO_PKG_VERSION"));
    let root = std::fs::read_dir(&x)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(root
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(&name));
    let files = tree(&root);
    for want in [
        "tai",
        "README.md",
        "LICENSE",
        "man/man1/tai.1",
        "man/man1/tai-collect.1",
        "completions/tai.bash",
        "completions/_tai",
        "completions/tai.fish",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} missing: {files:?}");
    }
    // The hidden subcommand gets no man page; the man page is roff from the clap definitions.
    assert!(!files.iter().any(|f| f.contains("tai-dist")), "{files:?}");
    let man = std::fs::read_to_string(root.join("man/man1/tai.1")).unwrap();
    assert!(man.contains(".TH tai 1"), "{man}");
    assert!(man.contains("collect"), "{man}");
    let bash = std::fs::read_to_string(root.join("completions/tai.bash")).unwrap();
    assert!(bash.contains("complete") && bash.contains("collect"));
    let license = std::fs::read_to_string(root.join("LICENSE")).unwrap();
    assert!(license.starts_with("MIT License"));
    // The packed binary runs and is the one that wrote it.
    let v = Command::new(root.join("tai"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(support::stdout_of(&v).starts_with(&format!("tai {}", env!("CARGO_PKG_VERSION"))));
}

/// The image's contract without the image: uid 10001, HOME and ~/.ssh read-only, known_hosts
/// seeded into TAI_HOME, TAI_HOME the only writable place tai uses.
#[test]
fn unprivileged_user_with_only_tai_home_writable_collects_over_ssh_and_reads_history() {
    let sshd = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    mode(root.path(), 0o755);
    // The binary where uid 10001 can run it whatever the checkout's permissions.
    let bin = root.path().join("tai");
    std::fs::copy(env!("CARGO_BIN_EXE_tai"), &bin).unwrap();
    mode(&bin, 0o755);
    // HOME and ~/.ssh: root-owned, read-only to the user; the key readable by it alone.
    let home = root.path().join("home");
    let ssh = home.join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    let key = ssh.join("id_ed25519");
    std::fs::copy(sshd.client_key(), &key).unwrap();
    chown(&key, Some(UID), Some(UID)).unwrap();
    mode(&key, 0o400);
    std::fs::write(ssh.join("known_hosts"), sshd.known_hosts_line()).unwrap();
    mode(&ssh, 0o555);
    mode(&home, 0o555);
    // TAI_HOME: the one writable directory, with known_hosts seeded from ~/.ssh (what the
    // image's entrypoint does).
    let tai_home = root.path().join("tai-home");
    std::fs::create_dir(&tai_home).unwrap();
    let kh = tai_home.join("known_hosts");
    std::fs::copy(ssh.join("known_hosts"), &kh).unwrap();
    chown(&tai_home, Some(UID), Some(UID)).unwrap();
    chown(&kh, Some(UID), Some(UID)).unwrap();
    let before_home = tree(&home);

    let tai = |args: &[&str]| {
        Command::new("setpriv")
            .args([
                "--reuid",
                "10001",
                "--regid",
                "10001",
                "--clear-groups",
                "--",
            ])
            .arg(&bin)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("TAI_HOME", &tai_home)
            .env("TAI_KNOWN_HOSTS", &kh)
            .env("NO_COLOR", "1")
            .current_dir(&home)
            .output()
            .unwrap()
    };
    let target = sshd.target();
    let key_arg = key.display().to_string();
    let out = tai(&["collect", &target, "--category", "disk", "-i", &key_arg]);
    let text = support::stdout_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{text}\nstderr:\n{}",
        support::stderr_of(&out)
    );
    assert!(text.contains("df "), "{text}");
    let out = tai(&["history"]);
    assert!(out.status.success(), "{}", support::stderr_of(&out));

    // Nothing landed in HOME; what tai wrote in TAI_HOME belongs to the user.
    assert_eq!(tree(&home), before_home);
    let written = tree(&tai_home);
    assert!(
        written.iter().any(|f| f.starts_with("audit")),
        "{written:?}"
    );
    for f in &written {
        let meta = std::fs::metadata(tai_home.join(f)).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), UID, "{f}");
    }
    // The seeded host key was trusted as is: no second entry was learned.
    let kh_text = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(kh_text, sshd.known_hosts_line(), "{kh_text}");
}
