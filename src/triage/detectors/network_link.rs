//! NIC link state changes, as the drivers and the network stack print them: e1000e/igb/ixgbe/
//! bnxt_en (`NIC Link is Down`, `NIC Link is Up 1000 Mbps Full Duplex`), tg3/r8169/phylink
//! (`Link is down`, `Link is Up - 1Gbps/Full`), mlx5/mlx4 (`Link down`/`Link Up`), bonding
//! (`link status definitely down for interface`), systemd-networkd (`Lost carrier`/`Gained
//! carrier`), NetworkManager (`carrier: link disconnected`) and `ADDRCONF(NETDEV_CHANGE): eth0:
//! link becomes ready`. Several down/up cycles on one interface are a flap; one down then up is
//! informational; down with no up after is a link that is down now.
use super::{plural, Corpus, Detector, Finding, New, Severity};

/// The `link_flap` detector.
pub(super) const LINK_FLAP: Detector = Detector {
    journal: &[
        r"link is (down|up)",
        r": link (down|up)\b",
        r"(lost|gained) carrier",
        r"carrier: link (connected|disconnected)",
        r"link status definitely (down|up)",
        r"addrconf\(netdev_change\)",
    ],
    sweep: &[],
    run: link_flap,
};

/// How many down events make a flap.
const FLAPS: usize = 3;

#[derive(PartialEq, Clone, Copy)]
enum Ev {
    Down,
    Up,
}

/// The interface and the event a line reports, if it is a link change.
fn link_event(line: &str) -> Option<(String, Ev)> {
    // "e1000e 0000:00:19.0 eth0: NIC Link is Down", "e1000e: eth0 NIC Link is Up 1000 Mbps…",
    // "igb 0000:01:00.0 eno1: igb: eno1 NIC Link is Up …": the interface is the word before "NIC".
    let nic = re!(r"([\w.@-]+):? NIC Link is (Up|Down)\b");
    let dev = re!(r"\b([\w.@-]+): Link is (?i:(up|down))\b");
    let mlx = re!(r"\b([\w.@-]+): Link (?i:(up|down))\b");
    // NetworkManager: "device (eth0): carrier: link connected|disconnected".
    let nm = re!(r"device \(([\w.@-]+)\): carrier: link (connected|disconnected)\b");
    let carrier = re!(r"\b([\w.@-]+): (Lost|Gained) carrier\b");
    let bond = re!(
        r"\b([\w.@-]+): (?:\(slave ([\w.@-]+)\): )?link status definitely (up|down)(?: for interface ([\w.@-]+))?"
    );
    let addrconf = re!(r"ADDRCONF\(NETDEV_CHANGE\): ([\w.@-]+): link becomes ready");
    let e = |s: &str| {
        if s.eq_ignore_ascii_case("down") || s == "Lost" {
            Ev::Down
        } else {
            Ev::Up
        }
    };
    if let Some(m) = bond.captures(line) {
        let ifc = m.get(2).or(m.get(4)).map_or(&m[1], |x| x.as_str());
        return Some((ifc.to_string(), e(&m[3])));
    }
    if let Some(m) = nic.captures(line) {
        return Some((m[1].to_string(), e(&m[2])));
    }
    if let Some(m) = dev.captures(line).or_else(|| mlx.captures(line)) {
        return Some((m[1].to_string(), e(&m[2])));
    }
    if let Some(m) = nm.captures(line) {
        let ev = if &m[2] == "disconnected" {
            Ev::Down
        } else {
            Ev::Up
        };
        return Some((m[1].to_string(), ev));
    }
    if let Some(m) = carrier.captures(line) {
        return Some((m[1].to_string(), e(&m[2])));
    }
    if let Some(m) = addrconf.captures(line) {
        return Some((m[1].to_string(), Ev::Up));
    }
    None
}

fn link_flap(c: &Corpus, out: &mut Vec<Finding>) {
    // Per interface, across every log read (a call that grepped only for "link is down" must
    // not hide the "Up" another call shows): its events in time order and the lines.
    type Seen<'a> = (String, Vec<Ev>, Vec<(&'a super::Block<'a>, &'a str)>);
    let mut ifs: Vec<Seen> = Vec::new();
    for (b, line) in super::storage::all_logs_in_time_order(c) {
        let Some((ifc, ev)) = link_event(line) else {
            continue;
        };
        match ifs.iter_mut().find(|i| i.0 == ifc) {
            Some(i) => {
                i.1.push(ev);
                i.2.push((b, line));
            }
            None => ifs.push((ifc, vec![ev], vec![(b, line)])),
        }
    }
    for (ifc, evs, lines) in ifs {
        let downs = evs.iter().filter(|e| **e == Ev::Down).count();
        if downs == 0 {
            continue;
        }
        let down_now = evs.last() == Some(&Ev::Down);
        let (severity, rank, summary) = if downs >= FLAPS {
            (
                    if down_now { Severity::Critical } else { Severity::Warning },
                    88,
                    format!(
                        "Link on {ifc} is flapping: down {downs} times{}; connections through it stall and reset",
                        if down_now { ", and down now" } else { "" }
                    ),
                )
        } else if down_now {
            (
                Severity::Critical,
                70,
                format!("Link on {ifc} went down and did not come back up"),
            )
        } else {
            (
                Severity::Info,
                15,
                format!(
                    "Link on {ifc} went down {downs} time{} and came back up",
                    plural(downs)
                ),
            )
        };
        // The latest lines say most about now.
        let (b, keep, supporting) = super::storage::split_evidence(&lines);
        let mut f = New {
                    kind: "link_flap",
                    category: "network",
                    severity,
                    rank,
                    subject: ifc.clone(),
                    summary,
                    block: b,
                    evidence: keep,
                    actions: vec![
                        format!("See the link now and its error counters: `ip -s link show {ifc}`, `ethtool {ifc}`, `ethtool -S {ifc} | grep -iE 'err|crc|drop'`"),
                        "Check the physical path: cable, SFP/transceiver (`ethtool -m`), the switch port's log and its speed/duplex settings".into(),
                        "On a bond, check that the other member is up (`cat /proc/net/bonding/bond0`) before replacing anything".into(),
                    ],
                }
                .build();
        f.supporting = supporting;
        out.push(f);
    }
}
