#!/usr/bin/env bash
# hwattest quickstart: one node attestation with a TPM through a real SPIRE
# server and agent, then a workload SVID and the attestation claims that the
# credential composer put into it. Everything runs under one temporary
# directory and is stopped at the end.
#
#   ./examples/quickstart/run.sh           # /dev/tpmrm0 when present, else swtpm
#   QS_TPM_MODE=swtpm ./examples/quickstart/run.sh
#   QS_KEEP=1 ...                          # keep the directory for a look
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/examples/quickstart"

export QS_DIR="$(mktemp -d /tmp/hwattest-quickstart.XXXXXX)"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    echo "quickstart failed; logs:" >&2
    for f in "$QS_DIR"/server/server.log "$QS_DIR"/agent/agent.log "$QS_DIR"/tpm/swtpm.log; do
      [ -f "$f" ] && { echo "== $f" >&2; tail -n 30 "$f" >&2; }
    done
  fi
  if [ "${QS_KEEP:-}" = 1 ]; then echo "kept $QS_DIR"; else rm -rf "$QS_DIR"; fi
  exit $rc
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# free_port_pair prints a port P with P+1 free too (swtpm's server and control ports).
free_port_pair() { python3 -c 'import socket
for _ in range(100):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    try:
        b = socket.socket(); b.bind(("127.0.0.1", p + 1)); b.close(); a.close(); print(p); break
    except OSError:
        a.close()'; }
wait_for() { # wait_for SECONDS COMMAND...
  local n=$(( $1 * 5 )); shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  "$@"
}

step "building the plugins and SPIRE v1.13.3 (SPIRE once, then cached)"
mkdir -p "$QS_DIR"/{bin,ek-ca,server,agent/public,tpm}
(cd "$repo" && go build -o "$QS_DIR/bin/" ./cmd/... ./examples/quickstart/bootreplay)
spire="${HWATTEST_SPIRE_BIN:-$("$repo/test/integration/spire-bin")}" # a SPIRE build of your own: HWATTEST_SPIRE_BIN=DIR
export QS_TPM_SERVER_SHA256="$(sha256sum "$QS_DIR/bin/nodeattestor-tpm-server" | cut -d' ' -f1)"
export QS_TPM_AGENT_SHA256="$(sha256sum "$QS_DIR/bin/nodeattestor-tpm-agent" | cut -d' ' -f1)"
export QS_COMPOSER_SHA256="$(sha256sum "$QS_DIR/bin/credentialcomposer-attestation" | cut -d' ' -f1)"
export QS_EXE_SHA256="$(sha256sum "$QS_DIR/bin/workloadattestor-exe" | cut -d' ' -f1)"
export QS_SERVER_PORT="$(free_port)"

# The recorded boot log the software TPM gets (swtpm mode only).
bootlog_name=keylime_binary_bios_measurements_secureboot.bin

mode="${QS_TPM_MODE:-auto}"
if [ "$mode" = auto ]; then
  if [ -c /dev/tpmrm0 ]; then mode=hardware; else mode=swtpm; fi
fi
if [ "$mode" = hardware ]; then
  step "using the hardware TPM at /dev/tpmrm0 (its EK certificate must chain to a bundled vendor CA)"
  export QS_TPM=/dev/tpmrm0
  export QS_EVENT_LOG=/sys/kernel/security/tpm0/binary_bios_measurements
else
  step "starting a software TPM (swtpm) with an EK certificate from its own local CA"
  cat >"$QS_DIR/tpm/swtpm-localca.conf" <<EOF
statedir = $QS_DIR/tpm/ca
signingkey = $QS_DIR/tpm/ca/signkey.pem
issuercert = $QS_DIR/tpm/ca/issuercert.pem
certserial = $QS_DIR/tpm/ca/certserial
EOF
  printf -- '--platform-manufacturer hwattest\n--platform-version 2.1\n--platform-model quickstart\n' >"$QS_DIR/tpm/swtpm-localca.options"
  cat >"$QS_DIR/tpm/swtpm_setup.conf" <<EOF
create_certs_tool = /usr/bin/swtpm_localca
create_certs_tool_config = $QS_DIR/tpm/swtpm-localca.conf
create_certs_tool_options = $QS_DIR/tpm/swtpm-localca.options
active_pcr_banks = sha256
EOF
  mkdir -p "$QS_DIR/tpm/state" "$QS_DIR/tpm/ca"
  swtpm_setup --tpm2 --tpmstate "$QS_DIR/tpm/state" --create-ek-cert --create-platform-cert \
    --lock-nvram --overwrite --config "$QS_DIR/tpm/swtpm_setup.conf" >"$QS_DIR/tpm/setup.log" 2>&1
  port="$(free_port_pair)"
  swtpm socket --tpm2 --tpmstate dir="$QS_DIR/tpm/state" \
    --server type=tcp,port="$port",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port="$((port + 1))",bindaddr=127.0.0.1 \
    --flags not-need-init,startup-clear --log file="$QS_DIR/tpm/swtpm.log" &
  pids+=($!)
  cp "$QS_DIR/tpm/ca/swtpm-localca-rootca-cert.pem" "$QS_DIR/tpm/ca/issuercert.pem" "$QS_DIR/ek-ca/"
  export QS_TPM="swtpm://127.0.0.1:$port"
  wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"

  # swtpm has no firmware: its PCRs 0-7 are zero and there is no boot log.
  # Firmware would extend every boot measurement into the PCRs and keep the
  # log; bootreplay does that with a log recorded on another machine.
  step "replaying a RECORDED UEFI boot log into the software TPM (not this machine's boot)"
  echo "log: $bootlog_name"
  echo "     a real machine's log with secure boot on, from keylime's test data (pkg/tpmquote/testdata/NOTICE)"
  cp "$repo/pkg/tpmquote/testdata/eventlogs/$bootlog_name" "$QS_DIR/tpm/binary_bios_measurements"
  "$QS_DIR/bin/bootreplay" -tpm "$QS_TPM" -log "$QS_DIR/tpm/binary_bios_measurements"
  export QS_EVENT_LOG="$QS_DIR/tpm/binary_bios_measurements"
fi

step "starting the SPIRE server with the tpm node attestor"
"$spire/spire-server" run -expandEnv -config "$here/server.conf" &
pids+=($!)
wait_for 30 "$spire/spire-server" healthcheck -socketPath "$QS_DIR/server/api.sock"

step "bootstrapping the agent's trust bundle (spire-server bundle show) and starting the agent"
"$spire/spire-server" bundle show -socketPath "$QS_DIR/server/api.sock" >"$QS_DIR/agent/bundle.pem"
"$spire/spire-agent" run -expandEnv -config "$here/agent.conf" &
pids+=($!)
wait_for 60 "$spire/spire-agent" healthcheck -socketPath "$QS_DIR/agent/public/api.sock"

step "the attested node"
agent_id="$("$spire/spire-server" agent list -socketPath "$QS_DIR/server/api.sock" -output json |
  python3 -c 'import json,sys; a=json.load(sys.stdin)["agents"][0]["id"]; print("spiffe://"+a["trust_domain"]+a["path"])')"
echo "agent ID: $agent_id"
echo "selectors:"
"$spire/spire-server" agent show -socketPath "$QS_DIR/server/api.sock" -spiffeID "$agent_id" -output json |
  python3 -c 'import json,sys; [print("  "+s["type"]+":"+s["value"]) for s in json.load(sys.stdin)["selectors"]]'
if [ "$mode" = swtpm ]; then
  echo "(secureboot, pcr and the secureboot policy come from the recorded log replayed above)"
fi

step "registering a workload (this shell's uid) on that node and fetching its X509-SVID"
"$spire/spire-server" entry create -socketPath "$QS_DIR/server/api.sock" -parentID "$agent_id" \
  -spiffeID spiffe://example.org/quickstart/workload -selector "unix:uid:$(id -u)" >/dev/null
wait_for 30 "$spire/spire-agent" api fetch x509 -socketPath "$QS_DIR/agent/public/api.sock" -write "$QS_DIR/agent"
"$spire/spire-agent" api fetch x509 -socketPath "$QS_DIR/agent/public/api.sock" -write "$QS_DIR/agent"
openssl x509 -in "$QS_DIR/agent/svid.0.pem" -noout -subject -issuer -dates -ext subjectAltName
# The composer's extension as openssl names it: by its OID, id-pe-cmw
# (draft-ietf-rats-msg-wrap), holding a JSON CMW record (shortened here).
openssl x509 -in "$QS_DIR/agent/svid.0.pem" -noout -text | grep -A1 '1\.3\.6\.1\.5\.5\.7\.1\.35' | sed 's/^ *//' | cut -c1-100 | sed '2s/$/.../'

step "registering a measured workload (the hwattest binary, by its SHA-256) and decoding its SVID's claims"
hwattest_sha256="$(sha256sum "$QS_DIR/bin/hwattest" | cut -d' ' -f1)"
"$spire/spire-server" entry create -socketPath "$QS_DIR/server/api.sock" -parentID "$agent_id" \
  -spiffeID spiffe://example.org/quickstart/hwattest -selector "unix:uid:$(id -u)" \
  -selector "exe:sha256:$hwattest_sha256" >/dev/null
echo "\$ hwattest claims --socket unix://\$QS_DIR/agent/public/api.sock --spiffe-id spiffe://example.org/quickstart/hwattest"
wait_for 30 "$QS_DIR/bin/hwattest" claims --socket "unix://$QS_DIR/agent/public/api.sock" --spiffe-id spiffe://example.org/quickstart/hwattest
"$QS_DIR/bin/hwattest" claims --socket "unix://$QS_DIR/agent/public/api.sock" --spiffe-id spiffe://example.org/quickstart/hwattest |
  sed "s#$QS_DIR#\$QS_DIR#g"

step "done: stopping the agent, the server and the TPM"
