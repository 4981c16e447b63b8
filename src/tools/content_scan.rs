//! The content check behind every command that prints file contents: before it runs, the
//! files it reads are searched on the host for private key markers, and a command that would
//! print a file holding a private key is refused.
//!
//! File-name rules cannot know that `bundle.pem` or `rotated.log` holds a key, and once a
//! reader reshapes the lines on the host (`cut -c13-24`, `awk '{print substr($0,5,8)}'`,
//! `tail -c 40`) the stream redactor can no longer recognise what it sees. So the question
//! is asked of the files themselves, by tai's own `grep -l` (which prints only file names),
//! approved by the policy like any command and run concurrently with the path resolution:
//! no extra round trip. Anything the check cannot answer refuses the command (fail closed).
//! A grep (recursive or not) is run with the holders excluded instead of being refused.
use super::types::{CommandRecord, ExecContext, ToolError};
use crate::policy::{quote, ApprovedCommand};

/// Text that marks a private key in any common format (PEM and OpenSSH `PRIVATE KEY`
/// blocks, encrypted or not; PGP private key blocks; PuTTY key files).
pub const KEY_MARKERS: [&str; 2] = ["PRIVATE KEY", "PuTTY-User-Key-File"];

/// Why a command could not be cleared on the host: the record to show instead (shared by the
/// other host-side checks in `step.rs`).
pub type Refused = Box<CommandRecord>;

/// The scan for the files `argv` prints: `grep -l -Z -s -F` with every marker. Recursive
/// exactly when `argv` itself reads recursively: the scan then carries the same exclusions
/// the policy adds to the command (grep applies `--exclude` to command-line files too, by
/// any name suffix, so a one-level read must be scanned without them or a key in
/// `/var/log/keys-app/x.log` would be skipped by the scan and printed by the command).
pub(super) fn scan_argv(recursive: bool, files: &[String]) -> Vec<String> {
    // `-Z`: names end in NUL, so a file name with a newline is still one name.
    let mut scan = vec![
        "grep".to_string(),
        "-l".into(),
        "-Z".into(),
        "-s".into(),
        "-F".into(),
    ];
    if recursive {
        scan.push("-r".into());
    }
    for m in KEY_MARKERS {
        scan.push("-e".into());
        scan.push(m.into());
    }
    scan.push("--".into());
    scan.extend(files.iter().cloned());
    scan
}

/// `argv` with `--exclude=NAME` for each key holder, when the policy allows it (grep, whose
/// exclusions also cover named files): a recursive read then skips the holders instead of
/// being refused whole. Names with glob characters are not excluded (they would match more).
fn excluding(ctx: &ExecContext, argv: &[String], holders: &[&str]) -> Option<ApprovedCommand> {
    let mut names: Vec<String> = Vec::new();
    for h in holders {
        let name = h.rsplit('/').next().filter(|n| !n.is_empty())?;
        if name.contains(['*', '?', '[', '\\']) || name.chars().any(char::is_control) {
            return None;
        }
        let word = format!("--exclude={name}");
        if !names.contains(&word) {
            names.push(word);
        }
    }
    let mut with = argv.to_vec();
    // Last, before any `--`: grep lets the last matching include/exclude win.
    let at = with.iter().position(|a| a == "--").unwrap_or(with.len());
    with.splice(at..at, names);
    ctx.policy.approve(&with).ok()
}

/// Check the files `argv` prints for private keys. `Ok(None)`: run `argv` as approved;
/// `Ok(Some(cmd))`: run `cmd` instead (`argv` with the holders excluded); `Err`: refused.
/// No content paths (metadata readers such as `ls`, `stat`, `du`; commands without files),
/// no scan.
pub async fn refuse_key_holders(
    ctx: &ExecContext,
    approved: &ApprovedCommand,
) -> Result<Result<Option<ApprovedCommand>, Refused>, ToolError> {
    let argv = approved.checked_argv();
    let files = approved.content_paths();
    if files.is_empty() {
        return Ok(Ok(None));
    }
    let command = quote::command_line(argv);
    let refuse = |why: String| {
        Ok(Err(Box::new(CommandRecord::denied(
            command.clone(),
            "private-key-content",
            &why,
        ))))
    };
    let scan = scan_argv(approved.reads_recursively(), files);
    let approved = match ctx.policy.approve(&scan) {
        Ok(a) => a,
        Err(e) => {
            return refuse(format!(
                "tai checks the files a command prints for private keys before it runs, and \
                 that check was refused ({e}); name the files directly"
            ))
        }
    };
    let out = match ctx.transport.exec(&approved, &ctx.exec_options()).await {
        Ok(out) => out,
        Err(e) if e.is_fatal() => return Err(ToolError::Fatal(e)),
        Err(e) => {
            return refuse(format!(
                "the check of its files for private keys could not run on the host ({e})"
            ))
        }
    };
    if out.cancelled {
        return refuse("cancelled by the user while checking its files".into());
    }
    if out.timed_out || out.truncated() {
        return refuse(
            "the check of its files for private keys did not finish in time; narrow the read \
             to fewer or smaller files (read_file on one log, or grep in one directory)"
                .into(),
        );
    }
    let holders: Vec<&str> = out.stdout.split('\0').filter(|l| !l.is_empty()).collect();
    if matches!(out.exit_code, Some(0) | Some(2)) && !holders.is_empty() {
        if let Some(cmd) = excluding(ctx, argv, &holders) {
            return Ok(Ok(Some(cmd)));
        }
    }
    match out.exit_code {
        Some(1) => Ok(Ok(None)),
        // 2 = some operand could not be read: the command will meet the same error.
        Some(0) | Some(2) if !holders.is_empty() => refuse(format!(
            "{} hold{} a private key (`{}` found); tai never prints a file that holds a \
             private key, however the lines are cut. Read the public half (`.pub`, the \
             certificate) or check the key's metadata with `stat`",
            holders.join(", "),
            if holders.len() == 1 { "s" } else { "" },
            KEY_MARKERS.join("` or `")
        )),
        Some(2) => Ok(Ok(None)),
        other => refuse(format!(
            "the check of its files for private keys failed on the host (exit {other:?})"
        )),
    }
}
