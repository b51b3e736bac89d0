#!/usr/bin/env bash
# The docs/cli.md walkthrough on a software TPM: enrol, capture, derive a
# reference policy, verify, then drift one PCR and verify again.
#
#   ./examples/cli/swtpm-walkthrough.sh        # needs go, swtpm, swtpm-tools, tpm2-tools
#   KEEP=1 ./examples/cli/swtpm-walkthrough.sh # keep the directory
#
# swtpm has no firmware, so there is no boot event log (--event-log -) and PCRs
# 0-7 start at zero; on a real machine leave --event-log at its default.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="$(mktemp -d /tmp/hwattest-walkthrough.XXXXXX)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  if [ "${KEEP:-}" = 1 ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

# A port P with P+1 free for swtpm's control channel.
port="$(python3 -c 'import socket
for p in range(23210, 23400, 2):
    try:
        a = socket.socket(); a.bind(("127.0.0.1", p)); b = socket.socket(); b.bind(("127.0.0.1", p + 1))
        a.close(); b.close(); print(p); break
    except OSError: pass')"

mkdir -p "$dir/state" "$dir/ca"
cat >"$dir/localca.conf" <<CONF
statedir = $dir/ca
signingkey = $dir/ca/signkey.pem
issuercert = $dir/ca/issuercert.pem
certserial = $dir/ca/certserial
CONF
printf -- '--platform-manufacturer hwattest\n--platform-version 2.1\n--platform-model walkthrough\n' >"$dir/localca.options"
cat >"$dir/setup.conf" <<CONF
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $dir/localca.conf
create_certs_tool_options = $dir/localca.options
active_pcr_banks = sha256
CONF
swtpm_setup --tpm2 --tpmstate "$dir/state" --create-ek-cert --create-platform-cert \
  --lock-nvram --overwrite --config "$dir/setup.conf" >"$dir/setup.log" 2>&1
swtpm socket --tpm2 --tpmstate dir="$dir/state" \
  --server type=tcp,port="$port",bindaddr=127.0.0.1 --ctrl type=tcp,port="$((port + 1))",bindaddr=127.0.0.1 \
  --flags not-need-init,startup-clear &
pid=$!
for _ in $(seq 100); do # wait up to 10 s for swtpm to listen
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
tpm="swtpm://127.0.0.1:$port"
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
ca=(--ek-ca "$dir/ca/swtpm-localca-rootca-cert.pem" --ek-ca "$dir/ca/issuercert.pem")

(cd "$root" && go build -o "$dir/hwattest" ./cmd/hwattest)
# hw runs hwattest, printing the command, its output and its exit code, with
# the temporary directory and port abbreviated.
hw() {
  local rc=0
  echo "\$ hwattest $*" | sed "s#$dir#\$DIR#g; s#$port#PORT#g"
  "$dir/hwattest" "$@" >"$dir/out" 2>&1 || rc=$?
  sed "s#$dir#\$DIR#g; s#$port#PORT#g" "$dir/out"
  echo "(exit $rc)"
  echo
}

hw ek-cas
hw ek --tpm "$tpm" --trust-domain example.org
hw ek --tpm "$tpm" "${ca[@]}"
hw evidence --tpm "$tpm" --event-log - "${ca[@]}" -o "$dir/node-a.json"
hw reference --name level3-reference "${ca[@]}" -o "$dir/level3-reference.hcl" "$dir/node-a.json"
sed "s#$dir#\$DIR#g" "$dir/level3-reference.hcl"; echo
hw verify --policy "$dir/level3-reference.hcl" "${ca[@]}" "$dir/node-a.json"

echo "\$ tpm2_pcrextend 7:sha256=$(printf '%064d' 7)   # something new measured into PCR 7"
tpm2_pcrextend "7:sha256=$(printf '%064d' 7)"
echo
hw evidence --tpm "$tpm" --event-log - "${ca[@]}" -o "$dir/node-a-later.json"
hw verify --policy "$dir/level3-reference.hcl" "${ca[@]}" "$dir/node-a-later.json"
hw verify "$dir/node-a.json"
