//! Tests for the crashes detectors: segfaults and core dumps.
use super::*;

#[test]
fn segfaults_and_core_dumps() {
    let log = "\
Nov 25 07:58:01 app01 kernel: imgproc[4412]: segfault at 0 ip 000055d0c1a2b3c4 sp 00007ffd5e6f7a80 error 4 in imgproc[55d0c1a2b000+2000] likely on CPU 1 (core 1, socket 0)
Nov 25 07:58:01 app01 systemd-coredump[4413]: Process 4412 (imgproc) of user 998 dumped core.
Nov 25 07:58:01 app01 systemd[1]: imgproc.service: Main process exited, code=dumped, status=11/SEGV
Nov 25 07:59:00 app01 kernel: traps: php-fpm8.2[5000] general protection fault ip:7f1c2b3d4e5f sp:7ffd00000000 error:0 in libc.so.6[7f1c2b300000+155000]
";
    let f = run(&[journal(log)]);
    let s: Vec<&Finding> = f.iter().filter(|x| x.kind == "segfault").collect();
    assert_eq!(s.len(), 2, "{f:#?}");
    let img = s.iter().find(|x| x.subject == "imgproc").unwrap();
    assert_eq!(img.evidence.len(), 3);
    assert!(img.summary.contains("1 time)"), "{}", img.summary);
}

#[test]
fn crash_and_upstream_lookalikes_do_not_fire() {
    let log = "\
Nov 25 07:58:01 app01 systemd[1]: systemd-coredump.socket: Deactivated successfully.
Nov 25 07:58:02 app01 kernel: Segment Routing with IPv6
Nov 25 07:58:03 app01 systemd[1]: imgproc.service: Main process exited, code=exited, status=0/SUCCESS
2026/11/25 10:00:00 [warn] 902#902: *19 an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading upstream, client: 10.0.0.9, server: shop.example.com, request: \"GET /big HTTP/1.1\", upstream: \"http://127.0.0.1:8080/big\", host: \"shop.example.com\"
";
    none(&run(&[journal(log)]));
}
