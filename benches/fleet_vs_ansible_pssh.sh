#!/usr/bin/env bash
# tai fleet vs Ansible ad-hoc (-m raw, -m command) vs parallel-ssh: the same baseline commands
# on N loopback sshd hosts, in one run; wall time and peak RSS (GNU time). Not a test.
#
#   cargo build --release --locked && bash benches/fleet_vs_ansible_pssh.sh 50 [200]
#   TOOLS="tai pssh" bash benches/fleet_vs_ansible_pssh.sh 200     # a subset of the tools
#
# As root. Makes N throwaway sshd instances on 127.0.0.1 (one per port, one shared host key and
# client key, the login shell's ~/.bashrc hidden in a private mount namespace as the test
# harness does), ansible-core in a venv under target/ and Debian's pssh when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-50}")
TAI=${TAI:-target/release/tai}
VENV=target/fleet-bench-venv
[ -x "$VENV/bin/ansible" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q ansible-core; }
command -v parallel-ssh >/dev/null || { apt-get update -q && apt-get install -y -q pssh; }
W=$(mktemp -d /tmp/tai-fleet-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$W/client_key"
cp "$W/client_key.pub" "$W/authorized_keys"
mkdir -p /run/sshd
HOSTKEY=$(cut -d' ' -f1,2 "$W/host_key.pub")
USER_NAME=$(id -un)
MAX=$(printf '%s\n' "${SIZES[@]}" | sort -n | tail -1)
BASE=$((20000 + RANDOM % 20000))
for i in $(seq 1 "$MAX"); do
  port=$((BASE + i))
  cat > "$W/sshd_$i.conf" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $W/host_key
PidFile $W/sshd_$i.pid
AuthorizedKeysFile $W/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
MaxStartups 200
CFG
  unshare -m --propagation private sh -c 'mount --bind /dev/null "$HOME/.bashrc" 2>/dev/null; exec "$0" "$@"' \
    "$(command -v sshd || echo /usr/sbin/sshd)" -D -f "$W/sshd_$i.conf" -E "$W/sshd_$i.log" &
  PIDS+=($!)
  echo "[127.0.0.1]:$port $HOSTKEY" >> "$W/known_hosts"
done
sleep 2
# The same commands for everyone: the host commands one `tai fleet --category disk` run makes
# on the first host (baseline plan, triage sweep, figure calls, facts, tai's own path and
# private-key checks), read back from its audit log, as one command line for the others.
"$TAI" --tai-home "$W/tai-home" --ignore-ssh-config -i "$W/client_key" --known-hosts "$W/known_hosts" \
  fleet "$USER_NAME@127.0.0.1:$((BASE + 1))" --category disk > /dev/null 2>&1 || true
CMDS=$("$TAI" --tai-home "$W/tai-home" audit --json | python3 -c '
import json, sys
cmds = [e["command"] for e in json.load(sys.stdin) if e.get("event") == "command"]
print("; ".join(c + " 2>/dev/null" for c in cmds))')
echo "$CMDS" > "$W/cmds.sh"  # loopback hosts share this filesystem: each host runs this file
echo "commands per host: $(echo "$CMDS" | grep -o ' 2>/dev/null' | wc -l)"
echo
run() { # label, command...
  local label=$1; shift
  local t0 t1
  # CPU of the whole machine (every loopback host included) and of the tool's own process
  # (with the children it waits for: pssh's and ansible's ssh clients).
  c0=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S %M' -o "$W/time" "$@" > "$W/out.txt" 2> "$W/err.txt" || true
  t1=$(date +%s.%N)
  c1=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
  read -r user sys rss < <(tail -n 1 "$W/time")
  echo "$rss" > "$W/rss"
  echo "  cpu seconds, all processes: $(( (c1 - c0) / 100 )); the tool's own: ${user} user + ${sys} sys"
  printf '| %s | %s | %.2f s | %d MB |\n' "$label" "$N" "$(echo "$t1 - $t0" | bc)" $(( $(tail -n 1 "$W/rss") / 1024 ))
}
echo "| tool | hosts | wall time | peak RSS (largest process) |"
echo "|---|---|---|---|"
for N in "${SIZES[@]}"; do
  : > "$W/hosts" ; : > "$W/inv.ini"; : > "$W/pssh_hosts"
  echo "[bench]" > "$W/inv.ini"
  for i in $(seq 1 "$N"); do
    port=$((BASE + i))
    echo "$USER_NAME@127.0.0.1:$port" >> "$W/hosts"
    echo "h$i ansible_host=127.0.0.1 ansible_port=$port ansible_user=$USER_NAME ansible_python_interpreter=/usr/bin/python3" >> "$W/inv.ini"
    echo "$USER_NAME@127.0.0.1:$port" >> "$W/pssh_hosts"
  done
  if [[ " ${TOOLS:-tai ansible pssh} " == *" tai "* ]]; then
  run "tai fleet --category disk --forks 50 (audit log on)" "$TAI" --tai-home "$W/tai-home" --ignore-ssh-config \
    -i "$W/client_key" --known-hosts "$W/known_hosts" --json fleet "@$W/hosts" --category disk --forks 50
  grep -q '"reached": '"$N" "$W/out.txt" || echo "  (tai: not every host reached: $(grep -o '"reached": [0-9]*' "$W/out.txt"))"
  run "tai --no-persist fleet --category disk --forks 50" "$TAI" --no-persist --ignore-ssh-config -i "$W/client_key" \
    --known-hosts "$W/known_hosts" --json fleet "@$W/hosts" --category disk --forks 50
  grep -q '"reached": '"$N" "$W/out.txt" || echo "  (tai: not every host reached: $(grep -o '"reached": [0-9]*' "$W/out.txt"))"
  fi
  if [[ " ${TOOLS:-tai ansible pssh} " == *" ansible "* ]]; then
  export ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_SSH_ARGS="-o UserKnownHostsFile=$W/known_hosts" \
    ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_DEPRECATION_WARNINGS=False
  run "ansible -m raw -f 50" "$VENV/bin/ansible" bench -i "$W/inv.ini" --private-key "$W/client_key" -f 50 -m raw -a "sh $W/cmds.sh"
  echo "  (ansible raw: $(grep -c '| CHANGED\|| SUCCESS' "$W/out.txt") ok)"
  run "ansible -m command -f 50" "$VENV/bin/ansible" bench -i "$W/inv.ini" --private-key "$W/client_key" -f 50 -m command -a "sh $W/cmds.sh"
  echo "  (ansible command: $(grep -c '| CHANGED\|| SUCCESS' "$W/out.txt") ok)"
  fi
  if [[ " ${TOOLS:-tai ansible pssh} " == *" pssh "* ]]; then
  run "parallel-ssh -p 50" parallel-ssh -h "$W/pssh_hosts" -p 50 -t 120 -o "$W/pssh_out" \
    -x "-i $W/client_key -o UserKnownHostsFile=$W/known_hosts -o BatchMode=yes" "sh $W/cmds.sh"
  echo "  (pssh: $(grep -c SUCCESS "$W/out.txt") ok)"
  fi
done
