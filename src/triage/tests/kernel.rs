//! Tests for the kernel detectors: hung tasks (with D-state processes from `ps`), soft/hard
//! lockups and RCU stalls, machine checks and EDAC — positives from several kernel versions and
//! the look-alikes that must stay quiet.
use super::*;

fn kernel(stdout: &str) -> ToolOutcome {
    outcome("T2", "kernel_log", "journalctl -k --no-pager", stdout)
}

#[test]
fn hung_tasks_with_d_state_processes() {
    let log = "\
Nov 25 11:40:12 nfs-client kernel: INFO: task php-fpm8.2:4121 blocked for more than 120 seconds.
Nov 25 11:40:12 nfs-client kernel:       Not tainted 6.1.0-26-amd64 #1 Debian 6.1.112-1
Nov 25 11:40:12 nfs-client kernel: \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.
Nov 25 11:40:12 nfs-client kernel: task:php-fpm8.2      state:D stack:0     pid:4121  ppid:1180   flags:0x00000004
Nov 25 11:42:13 nfs-client kernel: INFO: task kworker/u8:2:212 blocked for more than 241 seconds.
";
    let ps = "\
    PID STAT WCHAN                            COMMAND
   4121 D    rpc_wait_bit_killable            php-fpm8.2
   4122 D    nfs_wait_on_request              php-fpm8.2
    611 Ss   do_select                        sshd
";
    let f = run(&[
        kernel(log),
        outcome("T5", "run_command", "ps -eo pid,stat,wchan:32,comm", ps),
    ]);
    let h = only(&f, "hung_task");
    assert_eq!(h.category, "kernel");
    assert_eq!(h.severity, Severity::Critical);
    assert!(h.summary.contains("php-fpm8.2 (pid 4121)"), "{}", h.summary);
    assert!(
        h.summary.contains("kworker/u8:2 (pid 212)"),
        "{}",
        h.summary
    );
    assert!(
        h.summary.contains("2 processes in uninterruptible sleep"),
        "{}",
        h.summary
    );
    assert!(h.evidence[0].contains("blocked for more than 120 seconds"));
    assert!(h
        .supporting
        .iter()
        .any(|s| s.line.contains("rpc_wait_bit_killable") && s.call_id == "T5"));
}

#[test]
fn hung_task_settings_and_ps_lines_are_not_hung_tasks() {
    let log = "\
Nov 25 11:40:00 web01 kernel: khungtaskd: hung_task_timeout_secs=120
Nov 25 11:40:01 web01 sysctl[300]: kernel.hung_task_timeout_secs = 120
";
    // An admin grepping for the message: a process listing, never read for log lines.
    let ps = "\
    PID STAT COMMAND
   5001 S+   grep INFO: task x:1 blocked for more than 120 seconds.
";
    none(&run(&[
        kernel(log),
        outcome("T5", "list_processes", "ps -eo pid,stat,args", ps),
    ]));
}

#[test]
fn soft_hard_lockups_and_rcu_stalls() {
    let variants = [
        "Nov 25 11:50:01 db01 kernel: watchdog: BUG: soft lockup - CPU#3 stuck for 23s! [kworker/3:1:1234]",
        "Nov 25 11:50:01 db01 kernel: NMI watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [java:2211]",
        "Nov 25 11:50:01 db01 kernel: NMI watchdog: Watchdog detected hard LOCKUP on cpu 2",
        "Nov 25 11:50:01 db01 kernel: watchdog: Watchdog detected hard LOCKUP on cpu 5",
        "Nov 25 11:50:01 db01 kernel: rcu: INFO: rcu_sched self-detected stall on CPU",
        "Nov 25 11:50:01 db01 kernel: rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
        "Nov 25 11:50:01 db01 kernel: INFO: rcu_sched detected stalls on CPUs/tasks: { 3} (detected by 1, t=60002 jiffies, g=9876, c=9875, q=12)",
    ];
    for v in variants {
        let f = run(&[kernel(v)]);
        let l = only(&f, "cpu_lockup");
        assert_eq!(l.severity, Severity::Critical, "{v}");
        assert_eq!(l.category, "kernel");
    }
    let f = run(&[kernel(variants[0])]);
    assert!(only(&f, "cpu_lockup")
        .summary
        .contains("soft lockup on CPU 3 (kworker/3:1 for 23s)"));
}

#[test]
fn watchdog_settings_are_not_lockups() {
    let log = "\
Nov 25 11:00:00 db01 kernel: NMI watchdog: Enabled. Permanently consumes one hw-PMU counter.
Nov 25 11:00:00 db01 kernel: rcu: RCU CPU stall warnings timeout set to 21 (rcu_cpu_stall_timeout).
Nov 25 11:00:00 db01 kernel: watchdog: Disabling watchdog on nohz_full cores by default
Nov 25 11:00:00 db01 kernel: rcu: Hierarchical RCU implementation.
";
    none(&run(&[kernel(log)]));
}

#[test]
fn edac_uncorrected_is_critical_corrected_is_a_warning_with_count() {
    let ce = "\
Nov 25 11:30:00 hv01 kernel: EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x12345 offset:0x0 grain:32 syndrome:0x0 - area:DRAM err_code:0001:0091 socket:0 ha:0 channel_mask:2 rank:1)
Nov 25 11:31:00 hv01 kernel: EDAC MC0: 3 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x12346 offset:0x0 grain:32 syndrome:0x0 - area:DRAM err_code:0001:0091 socket:0 ha:0 channel_mask:2 rank:1)
";
    let f = run(&[kernel(ce)]);
    let h = only(&f, "hardware_error");
    assert_eq!(h.severity, Severity::Warning);
    assert!(
        h.summary.contains("4 corrected (CE) memory errors"),
        "{}",
        h.summary
    );
    assert!(
        h.summary.contains("CPU_SrcID#0_Ha#0_Chan#1_DIMM#0"),
        "{}",
        h.summary
    );

    let ue = "\
Nov 25 11:32:00 hv01 kernel: mce: [Hardware Error]: Machine check events logged
Nov 25 11:32:00 hv01 kernel: EDAC MC1: 1 UE memory read error on CPU_SrcID#1_Ha#0_Chan#0_DIMM#1 (channel:0 slot:1 page:0x0 offset:0x0 grain:32 - area:DRAM err_code:0001:0090 socket:1 ha:0 channel_mask:1 rank:0)
";
    let f = run(&[kernel(ue)]);
    let h = only(&f, "hardware_error");
    assert_eq!(h.severity, Severity::Critical);
    assert!(h.evidence[0].contains(" UE "), "{:?}", h.evidence);
    assert!(h.summary.contains("MC1"), "{}", h.summary);
    // Older EDAC format and APEI/GHES.
    let old = "Nov 25 11:32:00 hv01 kernel: EDAC MC0: 1 CE error on CPU#0Channel#1_DIMM#0 (channel:1 slot:0 page:0x0 offset:0x0 grain:8 syndrome:0x0)";
    assert_eq!(
        only(&run(&[kernel(old)]), "hardware_error").severity,
        Severity::Warning
    );
    let ghes = "\
Nov 25 11:32:00 hv01 kernel: {1}[Hardware Error]: Hardware error from APEI Generic Hardware Error Source: 0
Nov 25 11:32:00 hv01 kernel: {1}[Hardware Error]: event severity: fatal
";
    assert_eq!(
        only(&run(&[kernel(ghes)]), "hardware_error").severity,
        Severity::Critical
    );
}

#[test]
fn edac_and_mce_init_lines_are_not_errors() {
    let log = "\
Nov 25 08:00:00 hv01 kernel: EDAC MC: Ver: 3.0.0
Nov 25 08:00:00 hv01 kernel: EDAC sbridge: Seeking for: PCI ID 8086:6fa0
Nov 25 08:00:00 hv01 kernel: EDAC MC0: Giving out device to module sb_edac controller Broadwell SrcID#0_Ha#0: DEV 0000:7f:12.0 (INTERRUPT)
Nov 25 08:00:00 hv01 kernel: mce: CPU0: Thermal monitoring enabled (TM1)
Nov 25 08:00:00 hv01 kernel: MCE: In-kernel MCE decoding enabled.
Nov 25 08:00:00 hv01 kernel: mce: CPU supports 22 MCE banks
Nov 25 11:00:00 hv01 kernel: mce: CPU0: Core temperature above threshold, cpu clock throttled (total events = 1)
Nov 25 11:00:01 hv01 kernel: mce: CPU0: Core temperature/speed normal
";
    none(&run(&[kernel(log)]));
    // The same words in a process listing are not kernel messages.
    none(&run(&[outcome(
        "T5",
        "list_processes",
        "ps -eo pid,args",
        "  PID COMMAND\n 900 grep EDAC MC0: 1 UE\n",
    )]));
}
