#!/usr/bin/env bash
# One MCP tool call on a warm SSH connection: `tai mcp` vs linux-mcp-server (PyPI), same host
# (a throwaway sshd on loopback), same file, same client (tests/mcp_client.py on the official
# Python `mcp` SDK), same run. Usage (as root, from the repo):
#   bash benches/mcp_vs_linux_mcp_server.sh [CALLS]     (TAI_BIN=path picks another tai build)
# Needs: cargo build --release; target/mcp-venv with mcp==2.3.0 (.ci/run makes it);
# target/lms-venv with linux-mcp-server==1.7.0 (made here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-50}"
repo="$PWD"
tai="${TAI_BIN:-$repo/target/release/tai}"
py="$repo/target/mcp-venv/bin/python"
[ -x "$tai" ] || cargo build --release --locked
[ -x "$py" ] || { python3 -m venv target/mcp-venv && target/mcp-venv/bin/python -m pip install --quiet 'mcp==2.3.0'; }
if [ ! -x target/lms-venv/bin/linux-mcp-server ]; then
  python3 -m venv target/lms-venv && target/lms-venv/bin/python -m pip install --quiet 'linux-mcp-server==1.7.0'
fi
lms="$repo/target/lms-venv/bin/linux-mcp-server"

tmp=$(mktemp -d); echo "scratch: $tmp" >&2
trap '[ -f "$tmp/sshd.pid" ] && kill "$(cat "$tmp/sshd.pid")" 2>/dev/null; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/client_key"
cp "$tmp/client_key.pub" "$tmp/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $tmp/host_key
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
MaxStartups 100
EOF
mkdir -p /run/sshd
# The login shell's ~/.bashrc (pyenv and friends on a dev box) would cost every command of both
# servers the same ~150 ms; hide it from this sshd, as tests/support/sshd.rs does.
rc="${HOME:-/root}/.bashrc"
if [ -f "$rc" ]; then
  unshare -m --propagation private sh -c 'mount --bind /dev/null "$0" && shift && exec "$@"' \
    "$rc" sshd /usr/sbin/sshd -f "$tmp/sshd_config" -E "$tmp/sshd.log"
else
  /usr/sbin/sshd -f "$tmp/sshd_config" -E "$tmp/sshd.log"
fi
sleep 0.5

# Both servers reach the host by one ssh_config alias, with the same key and known_hosts.
mkdir -p "$tmp/home/.ssh"
cat >"$tmp/home/.ssh/config" <<EOF
Host benchhost
  HostName 127.0.0.1
  Port $port
  User root
  IdentityFile $tmp/client_key
EOF
hostkey=$(cut -d' ' -f1,2 "$tmp/host_key.pub")
printf '[127.0.0.1]:%s %s\n[benchhost]:%s %s\n' "$port" "$hostkey" "$port" "$hostkey" >"$tmp/known_hosts"
cp "$tmp/known_hosts" "$tmp/home/.ssh/known_hosts"

file=/etc/os-release
bench() { # NAME STEPS -- SERVER...
  local name=$1 steps=$2; shift 3
  HOME="$tmp/home" "$py" tests/mcp_client.py stdio "$steps" "HOME=$tmp/home" "TAI_HOME=$tmp/tai" -- "$@" 2>>"$tmp/servers.log" |
    python3 -c '
import json, statistics, sys
name = sys.argv[1]
d = json.load(sys.stdin)
if "error" in d:
    print(name + ": client error: " + d["error"]); sys.exit(1)
r = d["results"][-1]
ms = sorted(r["ms"])
p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
errors = r["errors"]
first = (r["last"] or [""])[0].splitlines()[:2]
print(f"{name:<18} calls={len(ms)} errors={errors} median={statistics.median(ms):.1f} ms p90={p(0.9):.1f} ms min={ms[0]:.1f} ms")
print(f"{name:<18} output starts: {first}")
' "$name"
}

# One warm-up call (connects, detects facts), then CALLS timed calls of read_file.
tai_args="{\"host\": \"benchhost\", \"path\": \"$file\", \"lines\": 20}"
bench tai "[{\"op\":\"call\",\"tool\":\"read_file\",\"args\":$tai_args},{\"op\":\"bench\",\"tool\":\"read_file\",\"args\":$tai_args,\"n\":$calls}]" -- \
  "$tai" --known-hosts "$tmp/known_hosts" mcp --hosts benchhost
# The same without the audit log (every command's line is fsynced before its output is used).
bench "tai --no-persist" "[{\"op\":\"call\",\"tool\":\"read_file\",\"args\":$tai_args},{\"op\":\"bench\",\"tool\":\"read_file\",\"args\":$tai_args,\"n\":$calls}]" -- \
  "$tai" --no-persist --known-hosts "$tmp/known_hosts" mcp --hosts benchhost
lms_args="{\"host\": \"benchhost\", \"path\": \"$file\"}"
bench linux-mcp-server "[{\"op\":\"call\",\"tool\":\"read_file\",\"args\":$lms_args},{\"op\":\"bench\",\"tool\":\"read_file\",\"args\":$lms_args,\"n\":$calls}]" -- \
  "$lms" --user root --ssh-key-path "$tmp/client_key" --known-hosts-path "$tmp/known_hosts" --host-mode REMOTE_ONLY --log-dir "$tmp/lms-logs"
