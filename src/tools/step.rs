//! Running one [`Step`]: every argv through the policy, its paths resolved and re-checked on
//! the host (and the files it prints searched there for private keys, [`super::content_scan`]), the names a probe connects to resolved and checked there, then the transport;
//! stdout redacted again once shaped (the transport redacted both streams as they arrived)
//! and the output charged to the session budget; fallbacks tried when a program is missing.
use std::net::IpAddr;
use std::time::Instant;

use super::content_scan::Refused;
use super::types::{CallStatus, CommandRecord, ExecContext, Run, Step, ToolError};
use crate::policy::{quote, url, ApprovedCommand, Decision, PolicyError};
use crate::transport::TransportError;

/// stderr lines that mean the program exists but its service manager does not (containers,
/// hosts without systemd as PID 1): the step's alternative is tried, as for a missing program.
const UNAVAILABLE_MARKERS: &[&str] = &[
    "System has not been booted with systemd",
    "Failed to connect to bus",
    "Failed to create bus connection",
];

fn is_not_found(err: &TransportError) -> bool {
    matches!(err, TransportError::Spawn { reason, .. } if reason.contains("not found"))
}

/// Resolve every path argument of an approved command on the host (its verdict's path words),
/// all in one `readlink -m -z` (itself approved by the policy and run through the transport
/// like any command), then decide on its argv again with the resolved paths ([`Policy::recheck_resolved`]): a symlink, `..` after
/// a symlink or a relative path cannot reach what a direct read may not. No path arguments,
/// no round trip. Anything unexpected (no GNU readlink, odd output, a redacted or truncated
/// answer) refuses the command: fail closed. `Ok` carries the paths that resolved elsewhere.
pub async fn resolve_on_host(
    ctx: &ExecContext,
    approved: &ApprovedCommand,
) -> Result<Result<Vec<(String, String)>, Refused>, ToolError> {
    let argv = approved.checked_argv();
    let paths = approved.path_arguments().to_vec();
    if paths.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let command = quote::command_line(argv);
    let refuse = |why: String| {
        Ok(Err(Box::new(CommandRecord::denied(
            command.clone(),
            "host-path-resolution",
            &format!(
                "{why}; tai resolves every path on the host before it runs a command, and runs \
                 nothing it could not check"
            ),
        ))))
    };
    let mut resolver = vec![
        "readlink".to_string(),
        "-m".into(),
        "-z".into(),
        "--".into(),
    ];
    resolver.extend(paths.iter().cloned());
    let approved = match ctx.policy.approve(&resolver) {
        Ok(a) => a,
        Err(e) => return refuse(format!("the path resolver was refused ({e})")),
    };
    let out = match ctx.transport.exec(&approved, &ctx.exec_options()).await {
        Ok(out) => out,
        Err(e) if e.is_fatal() => return Err(ToolError::Fatal(e)),
        Err(e) => return refuse(format!("`readlink -m -z` could not run on the host ({e})")),
    };
    if out.cancelled {
        return refuse("cancelled by the user while resolving its paths".into());
    }
    if !out.success() || out.truncated() {
        let why = out.stderr.lines().next().unwrap_or("").trim().to_string();
        return refuse(format!(
            "`readlink -m -z` failed on the host (exit {:?}{}{}): GNU coreutils readlink is needed",
            out.exit_code,
            if out.timed_out { ", timed out" } else { "" },
            if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            }
        ));
    }
    if out.stdout.contains("[REDACTED:") {
        return refuse("a resolved path looks like a secret and was redacted".into());
    }
    let resolved: Vec<&str> = match out.stdout.strip_suffix('\0') {
        Some(body) => body.split('\0').collect(),
        None => Vec::new(),
    };
    if resolved.len() != paths.len() || resolved.iter().any(|r| !r.starts_with('/')) {
        return refuse(format!(
            "the host answered {} resolved path(s) for {} path argument(s)",
            resolved.len(),
            paths.len()
        ));
    }
    let pairs: Vec<(String, String)> = paths
        .into_iter()
        .zip(resolved.into_iter().map(str::to_string))
        .collect();
    if let Decision::Deny { rule, reason } = ctx.policy.recheck_resolved(argv, &pairs) {
        let reason = if reason.contains(" resolves to ") {
            reason
        } else {
            let moved: Vec<String> = pairs
                .iter()
                .filter(|(g, r)| g != r)
                .map(|(g, r)| format!("{g} resolves to {r}"))
                .collect();
            format!("{}: {reason}", moved.join(", "))
        };
        return Ok(Err(Box::new(CommandRecord::denied(
            command, &rule, &reason,
        ))));
    }
    ctx.remember_resolved(&pairs);
    Ok(Ok(pairs
        .into_iter()
        .filter(|(g, r)| g.starts_with('/') && g != r && g.trim_end_matches('/') != r)
        .collect()))
}

/// Resolve every DNS name a probe connects to ([`Policy::probe_names`]: curl URL hosts,
/// `openssl -connect`, ping and traceroute targets, database pings' `-h`) on the host with
/// `getent ahosts`, one call per name, all concurrently (each call itself approved by the
/// policy), and refuse the command when a name resolves to a cloud metadata or link-local
/// address ([`url::check_resolved_addresses`]): the policy refuses those addresses in every
/// spelling, and a name is only as safe as what it points to. The caller pins curl to the
/// checked addresses ([`Policy::pin_resolved`]), so a second DNS answer (rebinding) cannot
/// differ. No names, no round trip. Fail closed: a name that does not resolve, or any failure
/// to resolve it, refuses the command (the program would otherwise resolve it unchecked).
pub async fn resolve_names_on_host(
    ctx: &ExecContext,
    approved: &ApprovedCommand,
) -> Result<Result<Vec<(String, Vec<IpAddr>)>, Refused>, ToolError> {
    let argv = approved.checked_argv();
    let names = approved.probe_names();
    if names.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let command = quote::command_line(argv);
    let refuse = |why: String| {
        Box::new(CommandRecord::denied(
            command.clone(),
            "host-name-resolution",
            &format!(
                "{why}; tai resolves the names a probe connects to on the host before it runs \
                 it, and runs nothing it could not check"
            ),
        ))
    };
    let lookups = names.iter().map(|name| async move {
        let resolver = vec!["getent".to_string(), "ahosts".into(), name.clone()];
        let getent = ctx.policy.approve(&resolver);
        match getent {
            Ok(a) => Ok(ctx.transport.exec(&a, &ctx.exec_options()).await),
            Err(e) => Err(e),
        }
    });
    let answers = futures::future::join_all(lookups).await;
    let mut resolved: Vec<(String, Vec<IpAddr>)> = Vec::new();
    for (name, answer) in names.iter().zip(answers) {
        let out = match answer {
            Err(e) => return Ok(Err(refuse(format!("the name resolver was refused ({e})")))),
            Ok(Ok(out)) => out,
            Ok(Err(e)) if e.is_fatal() => return Err(ToolError::Fatal(e)),
            Ok(Err(e)) => {
                return Ok(Err(refuse(format!(
                    "`getent ahosts` could not run on the host ({e})"
                ))))
            }
        };
        if out.cancelled {
            return Ok(Err(refuse(
                "cancelled by the user while resolving its host names".into(),
            )));
        }
        if out.exit_code != Some(0) || out.timed_out || out.truncated() {
            let why = if out.exit_code == Some(2) {
                format!(
                    "`{name}` does not resolve on the host (check it with `getent hosts {name}` \
                     or `dig {name}`, or probe an address)"
                )
            } else {
                format!(
                    "`getent ahosts {name}` failed on the host (exit {:?}{})",
                    out.exit_code,
                    if out.timed_out { ", timed out" } else { "" }
                )
            };
            return Ok(Err(refuse(why)));
        }
        if let Err(e) = url::check_resolved_addresses(&out.stdout) {
            return Ok(Err(Box::new(CommandRecord::denied(
                command,
                "host-name-resolution",
                &format!("{name} resolves on the host to a refused address: {e}"),
            ))));
        }
        let addrs: Vec<IpAddr> = out
            .stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        if addrs.is_empty() {
            return Ok(Err(refuse(format!(
                "`{name}` resolved to no address on the host"
            ))));
        }
        resolved.push((name.clone(), addrs));
    }
    Ok(Ok(resolved))
}

/// The host-side checks of an approved command, one by one (see [`run_step`]): paths resolved
/// and re-checked, the printed files searched for private keys and the names a probe connects
/// to resolved, all on the host, concurrently (one extra round trip, and only when there is
/// something to check). Their audit lines go to disk with the next line: the command, or its
/// refusal. `Ok(Ok((cmd, moved)))`: run `cmd` (the approved one, or with key holders excluded
/// or names pinned); `moved` are the paths that resolved elsewhere.
async fn checked(
    ctx: &ExecContext,
    approved: ApprovedCommand,
) -> Result<Result<(ApprovedCommand, Vec<(String, String)>), Refused>, ToolError> {
    let (resolved, scanned, names) = super::audited::checks(async {
        tokio::join!(
            resolve_on_host(ctx, &approved),
            super::content_scan::refuse_key_holders(ctx, &approved),
            resolve_names_on_host(ctx, &approved)
        )
    })
    .await;
    let refused = !matches!(
        (&resolved, &scanned, &names),
        (Ok(Ok(_)), Ok(Ok(_)), Ok(Ok(_)))
    );
    if refused {
        // No command follows: the checks' lines are written now.
        if let Some(scope) = &ctx.audit {
            let _ = scope.flush().await;
        }
    }
    let moved = match resolved? {
        Ok(moved) => moved,
        Err(record) => return Ok(Err(record)),
    };
    let approved = match scanned? {
        Ok(None) => approved,
        Ok(Some(without_key_holders)) => without_key_holders,
        Err(record) => return Ok(Err(record)),
    };
    let approved = match names? {
        Ok(names) if names.is_empty() => approved,
        Ok(names) => ctx.policy.pin_resolved(&approved, &names),
        Err(record) => return Ok(Err(record)),
    };
    Ok(Ok((approved, moved)))
}

/// The checks of [`checked`] and the command in one round trip, for the case where the checks
/// pass as they stand: every path word absolute and resolving on the host to itself or to
/// where an allowed check found it last time (the re-check on those resolved paths is
/// decided here first, so the host only confirms the pairs the decision was taken on),
/// and no file it prints holding a private key (the scan finds nothing: grep status 1), and
/// no probe names. The host runs each check, then the command only if all of them answered
/// that ([`crate::transport::Transport::exec_guarded`]). `None`: not this case, or a check
/// answered otherwise, or the transport cannot; nothing of the command ran, and the caller
/// runs the checks one by one.
async fn guarded(
    ctx: &ExecContext,
    approved: &ApprovedCommand,
) -> Option<(
    Vec<(String, String)>,
    Result<crate::transport::CommandOutput, TransportError>,
)> {
    use crate::transport::{Expect, Guard, Guarded};
    if !approved.probe_names().is_empty() {
        return None;
    }
    let paths = approved.path_arguments();
    let files = approved.content_paths();
    if (paths.is_empty() && files.is_empty()) || paths.iter().any(|p| !p.starts_with('/')) {
        return None;
    }
    let argv = approved.checked_argv();
    // Each path where it resolved last time on this host, else to itself.
    let expected: Vec<(String, String)> = paths
        .iter()
        .map(|p| (p.clone(), ctx.resolved_path(p).unwrap_or_else(|| p.clone())))
        .collect();
    if !matches!(
        ctx.policy.recheck_resolved(argv, &expected),
        Decision::Allow { .. }
    ) {
        return None;
    }
    let mut guards = Vec::new();
    for (p, r) in &expected {
        let resolver = ["readlink", "-m", "--", p.as_str()].map(String::from);
        guards.push(Guard {
            cmd: ctx.policy.approve(&resolver).ok()?,
            expect: Expect::Stdout(format!("{r}\n")),
        });
    }
    let moved: Vec<(String, String)> = expected
        .into_iter()
        .filter(|(g, r)| g != r && g.trim_end_matches('/') != r)
        .collect();
    if !files.is_empty() {
        let scan = super::content_scan::scan_argv(approved.reads_recursively(), files);
        guards.push(Guard {
            cmd: ctx.policy.approve(&scan).ok()?,
            expect: Expect::Status(1),
        });
    }
    match ctx
        .transport
        .exec_guarded(&guards, approved, &ctx.exec_options())
        .await
    {
        Ok(Guarded::Ran(out)) => Some((moved, Ok(out))),
        Ok(Guarded::Missed { .. } | Guarded::Unsupported) => None,
        Err(e) => Some((moved, Err(e))),
    }
}

/// Run one step (primary argv, then fallbacks when the program is missing) through policy and
/// transport, appending what happened to `run`. `post` shapes stdout (e.g. keep the last N
/// lines). Returns `Ok(false)` when later steps should not run (denied or out of budget).
pub async fn run_step(
    ctx: &ExecContext,
    step: &Step,
    run: &mut Run,
    post: impl Fn(String) -> String,
) -> Result<bool, ToolError> {
    let candidates: Vec<&Vec<String>> = step.all_argv().collect();
    let last = candidates.len().saturating_sub(1);
    for (k, argv) in candidates.into_iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            run.status = Some(CallStatus::Error);
            run.output = "cancelled by the user before this command ran".into();
            return Ok(false);
        }
        if ctx.session_bytes_left() == 0 {
            run.commands.push(CommandRecord {
                command: quote::command_line(argv),
                status: CallStatus::Error,
                exit_code: None,
                duration_ms: 0,
                stdout: String::new(),
                stderr: String::new(),
                truncated: 0,
                note: Some(format!(
                    "not run: the session output budget of {} bytes is used up; summarise what \
                     you have",
                    ctx.limits.session_output_cap
                )),
            });
            return Ok(false);
        }
        let approved = match ctx.policy.approve(argv) {
            Ok(a) => a,
            Err(PolicyError::Denied { rule, reason, .. }) => {
                run.commands.push(CommandRecord::denied(
                    quote::command_line(argv),
                    &rule,
                    &reason,
                ));
                return Ok(false);
            }
            Err(e) => return Err(ToolError::RespondToModel(e.to_string())),
        };
        let started = Instant::now();
        // The common case in one round trip: the host runs the checks and then the command,
        // and only if every check answers what passes here (else the checks run one by one
        // below, with their reasons).
        let (approved, moved, result) = match guarded(ctx, &approved).await {
            Some((moved, result)) => (approved, moved, result),
            None => {
                let (approved, moved) = match checked(ctx, approved).await? {
                    Ok(checked) => checked,
                    Err(record) => {
                        run.commands.push(*record);
                        return Ok(false);
                    }
                };
                let result = ctx.transport.exec(&approved, &ctx.exec_options()).await;
                (approved, moved, result)
            }
        };
        let out = match result {
            Ok(out) => out,
            Err(e) if e.is_fatal() => return Err(ToolError::Fatal(e)),
            Err(e) => {
                let not_found = is_not_found(&e);
                run.commands.push(CommandRecord {
                    command: approved.display(),
                    status: CallStatus::Error,
                    exit_code: None,
                    duration_ms: started.elapsed().as_millis() as u64,
                    stdout: String::new(),
                    stderr: String::new(),
                    truncated: 0,
                    note: Some(if not_found && k < last {
                        format!("{e}; trying an alternative")
                    } else {
                        e.to_string()
                    }),
                });
                if not_found && k < last {
                    continue;
                }
                return Ok(true);
            }
        };
        let missing = out.exit_code == Some(127)
            || (out.exit_code != Some(0)
                && UNAVAILABLE_MARKERS.iter().any(|m| out.stderr.contains(m)));
        // Every transport redacts each stream as it arrives, before the cap
        // (`RedactedCapture`), so stderr is used as captured. stdout is redacted once more
        // after `post`: the stages and shaping the tool applies (`tr -d '\n'`, `cut`, joins)
        // can bring back together what the stream redactor saw apart.
        let mut stdout = crate::redact::redact(&post(out.stdout));
        let mut stderr = out.stderr;
        let mut note = (!moved.is_empty()).then(|| {
            let shown: Vec<String> = moved
                .iter()
                .take(4)
                .map(|(g, r)| format!("{g} resolves to {r}"))
                .collect();
            format!(
                "on the host, {}{}",
                shown.join(", "),
                if moved.len() > 4 { ", …" } else { "" }
            )
        });
        let want = stdout.len() + stderr.len();
        let granted = ctx.charge(want);
        if granted < want {
            let keep_out = granted.min(stdout.len());
            truncate_at_char(&mut stdout, keep_out);
            truncate_at_char(&mut stderr, granted - keep_out);
            note = Some(format!(
                "session output budget of {} bytes reached: {} bytes dropped",
                ctx.limits.session_output_cap,
                want - granted
            ));
        }
        if out.timed_out {
            note = Some(format!(
                "timed out after {}s and was stopped on the host (tai runs every command under \
                 `timeout -k {} N`)",
                crate::transport::wrapper::timeout_secs(ctx.limits.command_timeout),
                crate::transport::wrapper::KILL_AFTER_SECS
            ));
        } else if out.cancelled {
            note = Some("cancelled by the user".into());
        } else if let Some(sig) = &out.signal {
            note.get_or_insert_with(|| format!("killed by signal {sig}"));
        }
        let try_next = missing && k < last;
        if try_next && note.is_none() {
            note = Some("not available on this host; trying an alternative".into());
        }
        let ok = out.exit_code.is_some_and(|c| step.ok_codes.contains(&c));
        run.commands.push(CommandRecord {
            command: approved.display(),
            status: if ok {
                CallStatus::Ok
            } else {
                CallStatus::Error
            },
            exit_code: out.exit_code,
            duration_ms: out.duration.as_millis() as u64,
            stdout,
            stderr,
            truncated: out.truncated_bytes,
            note,
        });
        if try_next {
            continue;
        }
        return Ok(!out.cancelled);
    }
    Ok(true)
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
}

#[cfg(test)]
mod tests {
    #[test]
    fn output_is_redacted_again_after_the_transport() {
        let text = "a\n-----BEGIN OPENSSH PRIVATE KEY-----\nabc\ndef\n-----END OPENSSH PRIVATE KEY-----\nb\n-----BEGIN CERTIFICATE-----\nxyz\n";
        let r = crate::redact::redact(text);
        assert!(!r.contains("abc"), "{r}");
        assert!(r.contains("[REDACTED:private-key]"));
        assert!(r.contains("BEGIN CERTIFICATE"));
        assert!(r.ends_with("xyz\n"));
    }
}
