//! Tests for the NIC link detector: flaps from several drivers, a link that stays down, one
//! down/up cycle (informational), and the look-alikes.
use super::*;

fn kernel(stdout: &str) -> ToolOutcome {
    outcome("T2", "kernel_log", "journalctl -k --no-pager", stdout)
}

#[test]
fn e1000e_flapping() {
    let log = "\
Nov 25 11:40:01 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Down
Nov 25 11:40:04 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx
Nov 25 11:40:04 web01 kernel: IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready
Nov 25 11:44:10 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Down
Nov 25 11:44:13 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx
Nov 25 11:51:40 web01 kernel: e1000e: eth0 NIC Link is Down
Nov 25 11:51:42 web01 kernel: e1000e: eth0 NIC Link is Up 100 Mbps Half Duplex, Flow Control: None
";
    let f = run(&[kernel(log)]);
    let l = only(&f, "link_flap");
    assert_eq!(l.subject, "eth0");
    assert_eq!(l.category, "network");
    assert_eq!(l.severity, Severity::Warning);
    assert!(
        l.summary.contains("flapping: down 3 times"),
        "{}",
        l.summary
    );
    assert!(l.evidence.last().unwrap().contains("100 Mbps Half Duplex"));
}

#[test]
fn flaps_from_other_drivers() {
    let cases = [
        ("mlx5_core 0000:3b:00.0 ens1f0: Link down", "mlx5_core 0000:3b:00.0 ens1f0: Link up", "ens1f0"),
        ("bnxt_en 0000:19:00.0 eno1np0: NIC Link is Down", "bnxt_en 0000:19:00.0 eno1np0: NIC Link is Up, 25000 Mbps full duplex, Flow control: none", "eno1np0"),
        ("igb 0000:01:00.0 eno1: igb: eno1 NIC Link is Down", "igb 0000:01:00.0 eno1: igb: eno1 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX", "eno1"),
        ("mlx4_en: eth4: Link Down", "mlx4_en: eth4: Link Up", "eth4"),
        ("NetworkManager[812]: <info>  [1795600000.1234] device (enp1s0): carrier: link disconnected", "NetworkManager[812]: <info>  [1795600002.5678] device (enp1s0): carrier: link connected", "enp1s0"),
        ("tg3 0000:02:00.0 eth1: Link is down", "tg3 0000:02:00.0 eth1: Link is up at 1000 Mbps, full duplex", "eth1"),
        ("r8169 0000:02:00.0 enp2s0: Link is Down", "r8169 0000:02:00.0 enp2s0: Link is Up - 1Gbps/Full - flow control rx/tx", "enp2s0"),
        ("bond0: (slave eth3): link status definitely down, disabling slave", "bond0: (slave eth3): link status definitely up, 10000 Mbps full duplex", "eth3"),
        ("bond0: link status definitely down for interface eth2, disabling it", "bond0: link status definitely up for interface eth2, 1000 Mbps full duplex", "eth2"),
    ];
    for (down, up, ifc) in cases {
        let mut log = String::new();
        for m in 0..3 {
            log.push_str(&format!(
                "Nov 25 11:4{m}:00 h kernel: {down}\nNov 25 11:4{m}:05 h kernel: {up}\n"
            ));
        }
        let l = only(&run(&[kernel(&log)]), "link_flap");
        assert_eq!(l.subject, ifc, "{down}");
        assert_eq!(l.severity, Severity::Warning, "{down}");
    }
    // systemd-networkd through the journal.
    let log = "\
Nov 25 11:40:00 h systemd-networkd[510]: enp3s0: Lost carrier
Nov 25 11:40:02 h systemd-networkd[510]: enp3s0: Gained carrier
Nov 25 11:41:00 h systemd-networkd[510]: enp3s0: Lost carrier
Nov 25 11:41:02 h systemd-networkd[510]: enp3s0: Gained carrier
Nov 25 11:42:00 h systemd-networkd[510]: enp3s0: Lost carrier
";
    let l = only(&run(&[journal(log)]), "link_flap");
    assert_eq!(l.severity, Severity::Critical);
    assert!(l.summary.contains("down now"), "{}", l.summary);
}

#[test]
fn one_down_up_cycle_is_info_and_down_without_up_is_critical() {
    let once = "\
Nov 25 11:40:01 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Down
Nov 25 11:40:04 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx
";
    assert_eq!(
        only(&run(&[kernel(once)]), "link_flap").severity,
        Severity::Info
    );
    let down = "Nov 25 11:40:01 web01 kernel: ixgbe 0000:03:00.0 eth2: NIC Link is Down";
    let l = only(&run(&[kernel(down)]), "link_flap");
    assert_eq!(l.severity, Severity::Critical);
    assert!(l.summary.contains("did not come back up"), "{}", l.summary);
}

#[test]
fn link_up_at_boot_and_not_ready_are_quiet() {
    let log = "\
Nov 25 08:00:01 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx
Nov 25 08:00:01 web01 kernel: IPv6: ADDRCONF(NETDEV_UP): eth0: link is not ready
Nov 25 08:00:02 web01 kernel: IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready
Nov 25 08:00:02 web01 systemd-networkd[510]: eth0: Gained carrier
Nov 25 08:00:03 web01 kernel: e1000e 0000:00:19.0 eth0: 10/100 speed: disabling TSO
";
    none(&run(&[kernel(log)]));
    // Not from a log: an `ip monitor` line in a process listing.
    none(&run(&[outcome(
        "T5",
        "list_processes",
        "ps -eo pid,args",
        "  PID COMMAND\n 7 grep eth0: NIC Link is Down\n",
    )]));
}

#[test]
fn an_up_seen_by_another_call_means_the_link_is_up() {
    let downs = "\
2026-11-25T11:40:01+0000 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Down
2026-11-25T11:44:10+0000 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Down
2026-11-25T11:51:40+0000 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Down
";
    let all = "\
Nov 25 11:40:01 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Down
Nov 25 11:40:04 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx
Nov 25 11:44:10 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Down
Nov 25 11:44:13 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx
Nov 25 11:51:40 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Down
Nov 25 11:51:42 web01 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx
";
    let f = run(&[
        outcome(
            "T3",
            "read_journal",
            "journalctl --no-pager -q -o short-iso --grep=link",
            downs,
        ),
        kernel(all),
    ]);
    let l = only(&f, "link_flap");
    // Each down counted once although two calls printed it.
    assert!(l.summary.contains("down 3 times;"), "{}", l.summary);
    assert_eq!(l.severity, Severity::Warning);
}
