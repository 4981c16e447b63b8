//! Unit tests of the pipeline splitter and every stage, outputs checked against what GNU
//! coreutils / grep / awk print for the same input (C locale).
use super::*;

fn run(line: &str, input: &str) -> String {
    let (_, stages) = split_pipeline(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    apply_stages(&stages, input.to_string())
}

fn err(line: &str) -> String {
    match split_pipeline(line) {
        Ok((argv, stages)) => panic!("{line} accepted: {argv:?} + {} stages", stages.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn splits_on_unquoted_pipes_only() {
    let (argv, stages) = split_pipeline("grep -E 'a|b' /var/log/syslog").unwrap();
    assert_eq!(argv, ["grep", "-E", "a|b", "/var/log/syslog"]);
    assert!(stages.is_empty());
    let (argv, stages) =
        split_pipeline(r#"ss -tan | grep "x|y" | awk '{print $1}' | sort"#).unwrap();
    assert_eq!(argv, ["ss", "-tan"]);
    assert_eq!(stages.len(), 3);
    assert_eq!(stages[0].words, ["grep", "x|y"]);
    assert_eq!(describe(&stages), " | grep 'x|y' | awk '{print $1}' | sort");
    let (argv, stages) = split_pipeline(r"echo a\|b").unwrap();
    assert_eq!(argv, ["echo", "a|b"]);
    assert!(stages.is_empty());
    let (argv, stages) = split_pipeline("ps aux|grep -c nginx").unwrap();
    assert_eq!(argv, ["ps", "aux"]);
    assert_eq!(stages.len(), 1);
}

#[test]
fn refuses_operators_and_unknown_stages() {
    assert!(err("ps || true").contains("`||`"));
    assert!(err("ps |& grep x").contains("`|&`"));
    assert!(err("| grep x").contains("start with"));
    assert!(err("ps | | grep x").contains("empty stage"));
    assert!(err("ps |").contains("empty stage"));
    for bad in [
        "ps | sh",
        "ps | xargs kill",
        "ps | tee /tmp/x",
        "ps | bash -c id",
        "ps | perl -pe 1",
    ] {
        let e = err(bad);
        assert!(
            e.contains("not a supported stage") && e.contains("grep, sort"),
            "{bad}: {e}"
        );
    }
    assert!(err("ps | grep x > /tmp/out").contains("shell operator `>`"));
    assert!(err("ps | grep x; id").contains("shell operator `;`"));
    assert!(err("ps | grep $(id)").contains("substitution"));
    assert!(err("ps; id | grep x").contains("shell operator `;`"));
    // Stages read the previous output only: no files, no unmodelled options.
    assert!(err("ps | grep x /etc/shadow").contains("operand `/etc/shadow`"));
    assert!(err("ps | sort -o /tmp/x").contains("does not support `-o`"));
    assert!(err("ps | sort --compress-program=sh").contains("does not support"));
    assert!(err("ps | uniq - /tmp/out").contains("operand `/tmp/out`"));
    assert!(err("ps | head -n x").contains("whole number"));
    assert!(err("ps | grep -P 'x'").contains("-E"));
    assert!(err("ps | grep").contains("needs a pattern"));
    assert!(err(&format!("ps{}", " | wc".repeat(17))).contains("too many stages"));
}

#[test]
fn grep_options() {
    let text = "Error one\nok two\nerror three\nwarn four\n";
    assert_eq!(run("x | grep error", text), "error three\n");
    assert_eq!(run("x | grep -i error", text), "Error one\nerror three\n");
    assert_eq!(run("x | grep -vi error", text), "ok two\nwarn four\n");
    assert_eq!(run("x | grep -ci error", text), "2\n");
    assert_eq!(run("x | grep -c nothing", text), "0\n");
    assert_eq!(
        run("x | grep -n o", text),
        "1:Error one\n2:ok two\n3:error three\n4:warn four\n"
    );
    assert_eq!(run("x | grep -m1 -n o", text), "1:Error one\n");
    assert_eq!(run("x | grep -m 2 o", text), "Error one\nok two\n");
    assert_eq!(run("x | grep -E 'ok|warn'", text), "ok two\nwarn four\n");
    assert_eq!(run("x | grep 'ok\\|warn'", text), "ok two\nwarn four\n");
    assert_eq!(run("x | grep 'ok|warn'", text), "");
    assert_eq!(run("x | grep -e ok -e warn", text), "ok two\nwarn four\n");
    assert_eq!(run("x | grep -oE '[a-z]+ f[a-z]+'", text), "warn four\n");
    assert_eq!(run("x | grep -o 'o[a-z]*'", "foo boo\n"), "oo\noo\n");
    assert_eq!(run("x | grep -x 'ok two'", text), "ok two\n");
    assert_eq!(run("x | grep -w on", "one\non it\nxon\n"), "on it\n");
    assert_eq!(run("x | grep -ow on", "on, on\n"), "on\non\n");
    assert_eq!(run("x | grep -F 'a.b'", "a.b\naxb\n"), "a.b\n");
    assert_eq!(run("x | grep 'a.b'", "a.b\naxb\n"), "a.b\naxb\n");
    assert_eq!(run("x | grep -e -v", "a -v\nb\n"), "a -v\n");
    assert_eq!(run("x | grep -- -v", "a -v\nb\n"), "a -v\n");
    assert_eq!(run("x | grep --count --ignore-case ERROR", text), "2\n");
    assert_eq!(run("x | egrep 'one|two'", text), "Error one\nok two\n");
    assert_eq!(
        run("x | grep --line-buffered --color=never two", text),
        "ok two\n"
    );
}

#[test]
fn grep_context() {
    let text = "a\nb\nMATCH1\nc\nd\ne\nMATCH2\nf\n";
    assert_eq!(
        run("x | grep -A1 MATCH", text),
        "MATCH1\nc\n--\nMATCH2\nf\n"
    );
    assert_eq!(
        run("x | grep -B1 -n MATCH", text),
        "2-b\n3:MATCH1\n--\n6-e\n7:MATCH2\n"
    );
    assert_eq!(
        run("x | grep -C 2 MATCH", text),
        "a\nb\nMATCH1\nc\nd\ne\nMATCH2\nf\n"
    );
}

#[test]
fn bre_and_ere_translation() {
    let t = |p: &str, e: bool| grep::translate(p, e).unwrap();
    assert_eq!(t(r"a\(b\)*c", false), "a(b)*c");
    assert_eq!(t("a(b)+c?", false), r"a\(b\)\+c\?");
    assert_eq!(t(r"a\{2,\}", false), "a{2,}");
    assert_eq!(t("a{2}", false), r"a\{2\}");
    assert_eq!(t("a{,3}", true), "a{0,3}");
    assert_eq!(t("a{x", true), r"a\{x");
    assert_eq!(t("*a", false), r"\*a");
    assert_eq!(t("^*a", false), r"^\*a");
    assert_eq!(t("a^b$c$", false), r"a\^b\$c$");
    assert_eq!(t("[]a-]", false), r"[\]a\-]");
    assert_eq!(t("[^[:digit:].]", true), r"[^[:digit:].]");
    assert_eq!(t(r"[\w]", true), r"[\\w]");
    assert_eq!(t(r"\<word\>", true), r"\b{start}word\b{end}");
    assert!(grep::translate(r"\(a\)\1", false)
        .unwrap_err()
        .to_string()
        .contains("backreferences"));
    assert!(grep::translate("[abc", false)
        .unwrap_err()
        .to_string()
        .contains("closing"));
    assert!(grep::translate("[[=a=]]", false)
        .unwrap_err()
        .to_string()
        .contains("not supported"));
    assert!(grep::translate(r"\q", true)
        .unwrap_err()
        .to_string()
        .contains("unsupported escape"));
    // Every translation compiles.
    for p in [
        r"a\(b\)*c",
        "a(b)+c?",
        "*a",
        "a^b$c$",
        "[]a-]",
        r"x\{1,2\}",
        "a|b",
        "(a",
    ] {
        grep::compile(&t(p, false), false).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
    for p in [
        "(a|b)+",
        "a{2,}",
        "*a",
        "a{x",
        "a)",
        "[[:space:]]+$",
        r"\d+\.\d+",
    ] {
        grep::compile(&t(p, true), false).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
}

#[test]
fn sort_options() {
    assert_eq!(run("x | sort", "b\na\nB\n"), "B\na\nb\n");
    assert_eq!(run("x | sort -f", "b\na\nB\n"), "a\nB\nb\n");
    assert_eq!(run("x | sort -r", "b\na\nc\n"), "c\nb\na\n");
    assert_eq!(
        run("x | sort -n", "10\n9\n-1\n2.5\nx\n"),
        "-1\nx\n2.5\n9\n10\n"
    );
    assert_eq!(run("x | sort -rn", "10\n9\n100\n"), "100\n10\n9\n");
    assert_eq!(run("x | sort -u", "b\na\nb\n"), "a\nb\n");
    assert_eq!(
        run("x | sort -h", "1G\n2K\n10M\n512\n"),
        "512\n2K\n10M\n1G\n"
    );
    assert_eq!(
        run("x | sort -t: -k3 -n", "a:x:10\nb:y:9\n"),
        "b:y:9\na:x:10\n"
    );
    assert_eq!(
        run("x | sort -k2,2nr", "a 1\nb 3\nc 2\n"),
        "b 3\nc 2\na 1\n"
    );
    assert_eq!(
        run("x | sort -k 2 -k 1r", "a 1\nb 1\nc 0\n"),
        "c 0\nb 1\na 1\n"
    );
    // uniq -c output sorted by count: the counts are right-aligned, blanks lead the field.
    assert_eq!(
        run("x | sort -rn", "      3 a\n     12 b\n      1 c\n"),
        "     12 b\n      3 a\n      1 c\n"
    );
    assert_eq!(run("x | sort -nu", "1 a\n1 b\n2\n"), "1 a\n2\n");
    assert_eq!(run("x | sort -rn -k1", "1 b\n1 a\n"), "1 b\n1 a\n");
}

#[test]
fn uniq_head_tail_wc_cut() {
    let text = "a\na\nb\nA\nc\nc\nc\n";
    assert_eq!(run("x | uniq", text), "a\nb\nA\nc\n");
    assert_eq!(
        run("x | uniq -c", text),
        "      2 a\n      1 b\n      1 A\n      3 c\n"
    );
    assert_eq!(run("x | uniq -d", text), "a\nc\n");
    assert_eq!(run("x | uniq -u", text), "b\nA\n");
    assert_eq!(run("x | uniq -ic", "a\nA\n"), "      2 a\n");
    assert_eq!(run("x | uniq -f1", "1 x\n2 x\n3 y\n"), "1 x\n3 y\n");
    // A huge field count ends at the end of each line (no billion-step loop).
    assert_eq!(run("x | uniq -c -f 4000000000", "a\nb\n"), "      2 a\n");
    let ten: String = (1..=12).map(|i| format!("{i}\n")).collect();
    assert_eq!(
        run("x | head", &ten),
        (1..=10).map(|i| format!("{i}\n")).collect::<String>()
    );
    assert_eq!(run("x | head -n 2", &ten), "1\n2\n");
    assert_eq!(run("x | head -3", &ten), "1\n2\n3\n");
    assert_eq!(run("x | head -n -10", &ten), "1\n2\n");
    assert_eq!(run("x | head -c 3", &ten), "1\n2");
    assert_eq!(run("x | tail -n 2", &ten), "11\n12\n");
    assert_eq!(run("x | tail -2", &ten), "11\n12\n");
    assert_eq!(run("x | tail -n +11", &ten), "11\n12\n");
    assert_eq!(run("x | tail -c 3", &ten), "12\n");
    assert_eq!(run("x | tail -n 2", "a\nb"), "a\nb\n");
    assert_eq!(run("x | wc -l", &ten), "12\n");
    assert_eq!(run("x | wc -l", ""), "0\n");
    assert_eq!(run("x | wc", "hi there\n"), "      1       2       9\n");
    assert_eq!(run("x | wc -w -l", "a b\nc\n"), "      2       3\n");
    assert_eq!(run("x | wc -m", "é\n"), "2\n");
    assert_eq!(run("x | wc -c", "é\n"), "3\n");
    let pw = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\n";
    assert_eq!(run("x | cut -d: -f1", pw), "root\nnobody\n");
    assert_eq!(run("x | cut -d : -f1,3", pw), "root:0\nnobody:65534\n");
    assert_eq!(
        run("x | cut -d: -f6-", pw),
        "/root:/bin/bash\n/:/usr/sbin/nologin\n"
    );
    assert_eq!(
        run("x | cut -d: -f-2 --output-delimiter=' '", pw),
        "root x\nnobody x\n"
    );
    assert_eq!(run("x | cut -c1-3", pw), "roo\nnob\n");
    assert_eq!(run("x | cut -f2", "a\tb\nnotab\n"), "b\nnotab\n");
    assert_eq!(run("x | cut -s -f2", "a\tb\nnotab\n"), "b\n");
    assert_eq!(
        run("x | cut -d: --complement -f1-6", pw),
        "/bin/bash\n/usr/sbin/nologin\n"
    );
    assert!(err("x | cut -d: ").contains("exactly one"));
    assert!(err("x | cut -f 0").contains("invalid list"));
}

#[test]
fn tr_column_tac_cat() {
    let ss = "ESTAB  0   0  10.0.0.1:22   10.0.0.2:5555\nLISTEN 0 128 0.0.0.0:80 0.0.0.0:*\n";
    assert_eq!(
        run("x | tr -s ' ' | cut -d' ' -f4", ss),
        "10.0.0.1:22\n0.0.0.0:80\n"
    );
    assert_eq!(run("x | tr a-z A-Z", "ab-c\n"), "AB-C\n");
    assert_eq!(run("x | tr '[:lower:]' '[:upper:]'", "ab1\n"), "AB1\n");
    assert_eq!(run("x | tr -d '\\r'", "a\r\nb\r\n"), "a\nb\n");
    assert_eq!(run("x | tr ':' '\\n'", "a:b\n"), "a\nb\n");
    assert_eq!(run("x | tr -cd '[:digit:]\\n'", "a1b2\nc3\n"), "12\n3\n");
    assert_eq!(
        run("x | tr -cs 'A-Za-z' '\\n'", "one, two  three\n"),
        "one\ntwo\nthree\n"
    );
    assert_eq!(run("x | tr -s '\\n'", "a\n\n\nb\n"), "a\nb\n");
    assert_eq!(run("x | tr abc x", "aabbcd\n"), "xxxxxd\n");
    assert!(err("x | tr -d").contains("SET1"));
    assert!(err("x | tr a b /etc/passwd").contains("SET1"));
    assert!(err("x | tr z-a x").contains("reverse"));
    assert_eq!(
        run("x | column -t", "a bb ccc\ndddd e f\n"),
        "a     bb  ccc\ndddd  e   f\n"
    );
    assert_eq!(run("x | column -t -s:", "a:b\nccc:d\n"), "a    b\nccc  d\n");
    assert!(err("x | column").contains("-t"));
    assert_eq!(run("x | tac", "1\n2\n3\n"), "3\n2\n1\n");
    assert_eq!(run("x | cat", "a\nb"), "a\nb");
    assert_eq!(run("x | less", "a\n"), "a\n");
    assert!(err("x | cat /etc/shadow").contains("takes no options or files"));
    assert!(err("x | less +F").contains("takes no options or files"));
}

#[test]
fn sed_subset() {
    let text = "# comment\n\nListen 80\n  ServerName a.example\nListen 443\n";
    assert_eq!(
        run("x | sed -n '/^Listen/p'", text),
        "Listen 80\nListen 443\n"
    );
    assert_eq!(
        run("x | sed '/^#/d; /^$/d'", text),
        "Listen 80\n  ServerName a.example\nListen 443\n"
    );
    assert_eq!(run("x | sed 1d", "h\na\nb\n"), "a\nb\n");
    assert_eq!(run("x | sed -n '2,3p'", "1\n2\n3\n4\n"), "2\n3\n");
    assert_eq!(run("x | sed -n '$p'", "1\n2\n"), "2\n");
    assert_eq!(run("x | sed '2q'", "1\n2\n3\n"), "1\n2\n");
    assert_eq!(run("x | sed 's/^ *//'", "  a\nb\n"), "a\nb\n");
    assert_eq!(run("x | sed 's/o/0/g'", "foo\n"), "f00\n");
    assert_eq!(run("x | sed 's/o/0/2'", "fooo\n"), "fo0o\n");
    assert_eq!(run("x | sed 's|/|:|g'", "/a/b\n"), ":a:b\n");
    assert_eq!(
        run("x | sed 's/\\(a\\)\\(b\\)/\\2\\1 [&] $/'", "ab\n"),
        "ba [ab] $\n"
    );
    assert_eq!(
        run("x | sed -E 's/([0-9]+)ms/\\1 ms/'", "took 12ms\n"),
        "took 12 ms\n"
    );
    assert_eq!(run("x | sed -n 's/x/y/p'", "x\nz\n"), "y\n");
    assert_eq!(run("x | sed -n '/b/,/d/p'", "a\nb\nc\nd\ne\n"), "b\nc\nd\n");
    assert_eq!(run("x | sed '/b/,$d'", "a\nb\nc\n"), "a\n");
    assert_eq!(run("x | sed -n '/a/!p'", "a\nb\n"), "b\n");
    assert_eq!(run("x | sed -e s/a/b/ -e s/b/c/", "a\n"), "c\n");
    assert_eq!(run("x | sed 's/A/x/I'", "a\n"), "x\n");
    for bad in [
        "x | sed 'w /tmp/x'",
        "x | sed 's/a/b/w /tmp/x'",
        "x | sed '1r /etc/shadow'",
        "x | sed 's/x/id/e'",
        "x | sed -i s/a/b/",
        "x | sed -f script.sed",
        "x | sed p /etc/passwd",
        "x | sed '1{p}'",
    ] {
        let e = err(bad);
        assert!(
            e.contains("sed after `|` supports") || e.contains("operand"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn awk_subset() {
    let ss = "State Recv-Q Send-Q Local Peer\nLISTEN 0 128 0.0.0.0:22 0.0.0.0:*\nESTAB 0 0 10.0.0.1:22 10.0.0.2:5555\n";
    assert_eq!(run("x | awk '{print $1}'", ss), "State\nLISTEN\nESTAB\n");
    assert_eq!(
        run("x | awk 'NR>1 {print $1, $NF}'", ss),
        "LISTEN 0.0.0.0:*\nESTAB 10.0.0.2:5555\n"
    );
    assert_eq!(
        run("x | awk '{print $1 \":\" $4}'", ss).lines().nth(1),
        Some("LISTEN:0.0.0.0:22")
    );
    assert_eq!(
        run("x | awk '/ESTAB/ {print $(NF-1)}'", ss),
        "10.0.0.1:22\n"
    );
    assert_eq!(run("x | awk '!/ESTAB/'", ss).lines().count(), 2);
    assert_eq!(
        run("x | awk '$1 == \"LISTEN\" {print $4}'", ss),
        "0.0.0.0:22\n"
    );
    assert_eq!(
        run("x | awk '$3 > 100'", ss).lines().count(),
        2,
        "header: string comparison"
    );
    assert_eq!(
        run("x | awk '$3 >= 0 && $1 ~ /^E/ {print NR, NF}'", ss),
        "3 5\n"
    );
    assert_eq!(run("x | awk -F: '{print $1}'", "root:x:0\n"), "root\n");
    assert_eq!(
        run("x | awk -F ':' '$3 == 0 {print $1}'", "root:x:0\nbin:x:1\n"),
        "root\n"
    );
    assert_eq!(run("x | awk -F'\\t' '{print $2}'", "a b\tc\n"), "c\n");
    assert_eq!(run("x | awk -F', *' '{print $2}'", "a,  b\n"), "b\n");
    assert_eq!(run("x | awk '{print}'", "  a  b \n"), "  a  b \n");
    assert_eq!(run("x | awk '{ print $2 }'", "  a  b \n"), "b\n");
    assert_eq!(run("x | awk 'NF'", "a\n\nb\n"), "a\nb\n");
    assert_eq!(run("x | awk '{print $5}'", "a b\n"), "\n");
    assert_eq!(
        run("x | awk 'NR==1 || /ESTAB/'", ss),
        "State Recv-Q Send-Q Local Peer\nESTAB 0 0 10.0.0.1:22 10.0.0.2:5555\n"
    );
    assert_eq!(
        run(
            "x | awk '$1 == \"LISTEN\" && $3 > 100 || NR == 3 {print NR}'",
            ss
        ),
        "2\n3\n"
    );
    assert_eq!(
        run(
            "x | awk 'NR>1 {printf \"%-8s|%5d|%05.1f|%s\\n\", $1, $3, $2, $NF}'",
            ss
        ),
        "LISTEN  |  128|000.0|0.0.0.0:*\nESTAB   |    0|000.0|10.0.0.2:5555\n"
    );
    assert_eq!(
        run("x | awk '{printf(\"%s=%x%%\\n\", $1, $2)}'", "a 255\n"),
        "a=ff%\n"
    );
    assert_eq!(run("x | awk '{printf \"%.2s\", $1}'", "abc\nde\n"), "abde");
    assert!(err("x | awk '{printf \"%e\", $1}'").contains("not supported"));
    assert!(err("x | awk '{printf $1}'").contains("format"));
    // Sums and counts with END.
    let ps = "USER PID %CPU %MEM RSS\nroot 1 0.5 1.0 1024\nwww 2 1.5 2.5 2048\nwww 3 0.0 0.5 512\n";
    assert_eq!(run("x | awk 'NR>1 {s+=$5} END {print s}'", ps), "3584\n");
    assert_eq!(
        run("x | awk 'NR>1 {s+=$5} END {print s/1024 \" MB\"}'", ps),
        "3.5 MB\n"
    );
    assert_eq!(
        run(
            "x | awk '$1==\"www\" {n++; m += $4} END {print n, m; print NR}'",
            ps
        ),
        "2 3\n4\n"
    );
    assert_eq!(run("x | awk 'END {print NR}'", ps), "4\n");
    assert_eq!(
        run(
            "x | awk '{ t += $3 * 2 } END { printf \"%.1f\\n\", t }'",
            ps
        ),
        "4.0\n"
    );
    assert_eq!(run("x | awk 'NR>1 && $4*2 > 2 {print $1}'", ps), "www\n");
    assert_eq!(run("x | awk 'END {print x}'", ""), "\n");
    for bad in [
        "x | awk '{a[$1]++} END {for (k in a) print k, a[k]}'",
        "x | awk 'BEGIN {s=0} {s+=$1} END {print s}'",
        "x | awk '{s+=$1} END {system(\"id\")}'",
        "x | awk '{n = split($0, a)}'",
    ] {
        let e = err(bad);
        assert!(e.contains("awk after `|` supports only"), "{bad}: {e}");
    }
    for bad in [
        "x | awk '{system(\"id\")}'",
        "x | awk 'BEGIN{print 1}'",
        "x | awk '{print $1 > \"/tmp/x\"}'",
        "x | awk '{print $1 | \"sh\"}'",
        "x | awk -v x=1 '{print x}'",
        "x | awk -f prog.awk",
        "x | awk '{print $1}' /etc/passwd",
        "x | awk '{getline; print}'",
    ] {
        let e = err(bad);
        assert!(
            e.contains("awk after `|` supports only") || e.contains("operand"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn everyday_pipelines() {
    let ss = "LISTEN 0 128\nESTAB 0 0\nESTAB 0 0\nTIME-WAIT 0 0\nESTAB 1 0\n";
    assert_eq!(
        run(
            "ss -tan | awk '{print $1}' | sort | uniq -c | sort -rn | head -n 2",
            ss
        ),
        "      3 ESTAB\n      1 TIME-WAIT\n"
    );
    assert_eq!(run("ss -tan | grep -c ESTAB", ss), "3\n");
    assert_eq!(run("ss -tan | grep ESTAB | wc -l", ss), "3\n");
}

#[test]
fn output_stays_bounded() {
    // `uniq -c` on distinct one-character lines adds 8 bytes per line: within the bound.
    let input: String = (0..1000).map(|i| format!("{}\n", i % 10)).collect();
    let out = run("x | uniq -c", &input);
    assert!(!out.contains("cut at"));
    // `grep -on .` on a single long line: one output line per character, cut with a note.
    let long = "x".repeat(100_000);
    let out = run("x | grep -no .", &long);
    assert!(out.len() < long.len() + 16 + 4096 + 100, "{}", out.len());
    assert!(out.ends_with("output was cut at ") || out.contains("output was cut at"));
}

#[test]
fn word_matching_work_is_bounded() {
    // Every start refused by -w, each search scanning to the end of a 256 KiB line.
    let line = format!("x{}\n", "a".repeat(256 * 1024));
    let started = std::time::Instant::now();
    assert_eq!(run("x | grep -cw 'a.*'", &line), "0\n");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "|",
        "||",
        "grep",
        "egrep",
        "sort",
        "uniq",
        "head",
        "tail",
        "wc",
        "cut",
        "awk",
        "sh",
        "-n",
        "-20",
        "-é",
        "é",
        "-c",
        "-v",
        "-E",
        "-w",
        "-o",
        "-x",
        "-i",
        "-m",
        "-A",
        "-B",
        "-C",
        "-k",
        "-t",
        "-d",
        "-f",
        "-s",
        "-u",
        "-r",
        "-h",
        "-F",
        "-l",
        "--",
        "-",
        "+2",
        "-2",
        "1",
        "2,3",
        "1-",
        "-3",
        "0",
        "k2,2nr",
        ":",
        "' '",
        "'{print $1}'",
        "'NR>1 {print $NF, $2}'",
        "'$1 ~ /a|b/'",
        "'/x/'",
        "'{print $(NF-1) \"é\" $0}'",
        "'a\\(b\\)*'",
        "'[[:alpha:]]+'",
        "'[]x-]'",
        "'a{2,}'",
        "'\\<w\\>'",
        "\"x|y\"",
        "'",
        "\"",
        "\\",
        "-e",
        "'-v'",
        "'(a'",
        "'*'",
        "'[é-z]'",
        "--color=never",
        "--output-delimiter=é",
        "-d'é'",
        "-tx",
        "tr",
        "column",
        "tac",
        "cat",
        "-cs",
        "'a-z'",
        "'[:upper:]'",
        "'\\n'",
        "'\\\\'",
        "'\\777'",
        "-ds",
        "sed",
        "'s/a/b/g'",
        "'/x/,$d'",
        "'2,1p'",
        "'s/\\(x\\)/\\1&/2'",
        "'{s+=$1} END {print s/NR, s%3}'",
        "'END {print NR}'",
        "'{n++; print n*2}'",
    ];

    fn line() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(prop::sample::select(WORDS), 0..12),
            prop::sample::select(&["ps", "cat /var/log/syslog", "ss -tan"][..]),
        )
            .prop_map(|(w, first)| format!("{first} | {}", w.join(" ")))
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(
                &[
                    "a",
                    "b",
                    "é",
                    " ",
                    "\t",
                    "\n",
                    ":",
                    "1",
                    "10",
                    "-2",
                    "x y z",
                    "2K",
                    "1.5M",
                    "|",
                    "--",
                    "ESTAB",
                    "[",
                    "\u{1F600}",
                ][..],
            ),
            0..60,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// No line makes the splitter or a stage panic, and a stage never outgrows its bound.
        #[test]
        fn stages_never_panic(line in line(), input in text()) {
            if let Ok((argv, stages)) = split_pipeline(&line) {
                prop_assert!(!argv.is_empty());
                let mut text = input.clone();
                for s in &stages {
                    let lines = lines(&text).count();
                    let limit = text.len() + 16 * lines + 4096 + 64;
                    text = s.apply(&text);
                    prop_assert!(text.len() <= limit, "{line}: {} > {limit}", text.len());
                }
            }
        }
    }
}
