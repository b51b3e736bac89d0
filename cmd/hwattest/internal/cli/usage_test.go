package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
	"github.com/hwattest/hwattest/internal/tpmtest"
)

// TestUsageAndInputErrors: every bad input ends with exit code 2 and one
// clear line on standard error, before any TPM is touched.
func TestUsageAndInputErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notJSON := write("not.json", "PCR 7 is fine\n")
	live := write("live.json", `{"format":"hwattest-evidence","version":1,"live":true}`)
	badPolicy := write("bad.hcl", "policy \"p\" {\n  colour = \"blue\"\n}\n")
	noPolicy := write("empty.hcl", "# nothing yet\n")
	missing := filepath.Join(dir, "missing.json")
	const unreachable = "swtpm://127.0.0.1:1"

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, cli.ExitUsage, "hwattest: the operator's tool for hardware-attested workload identity with SPIRE.\n\nUsage:\n  hwattest <command> [flags] [arguments]"},
		{[]string{"attest"}, cli.ExitUsage, `hwattest: unknown command "attest" (commands: ek, ek-cas, evidence, reference, verify, report, provenance, claims, isolate; see hwattest help)`},
		{[]string{"isolate"}, cli.ExitUsage, `hwattest isolate: give one of --socket PATH and --server ADDR`},
		{[]string{"isolate", "--socket", "s", "--server", "127.0.0.1:8081", "--workload-socket", "w"}, cli.ExitUsage, `hwattest isolate: give one of --socket PATH and --server ADDR`},
		{[]string{"isolate", "--socket", "s", "--workload-socket", "w"}, cli.ExitUsage, `hwattest isolate: --workload-socket needs --server`},
		{[]string{"isolate", "--socket", "s", "--mode", "now", "--taint", "x", "--max-tainted", "0"}, cli.ExitUsage, `hwattest isolate: --mode "now": want report-only, dry-run or enforce; --taint "x": want KEY=VALUE:EFFECT; --max-tainted 0: want 1 to 100`},
		{[]string{"isolate", "--socket", "s", "--taint", "a=b:Evict"}, cli.ExitUsage, `hwattest isolate: --taint "a=b:Evict": effect "Evict": want NoExecute, NoSchedule or PreferNoSchedule`},
		{[]string{"isolate", "--socket", "s", "--state-configmap", "hwattest-isolate-state"}, cli.ExitUsage, `hwattest isolate: --state-configmap "hwattest-isolate-state": want NAMESPACE/NAME`},
		{[]string{"isolate", "--socket", "s", "--listen", "0.0.0.0:8443"}, cli.ExitUsage, `hwattest isolate: --listen 0.0.0.0:8443 without --tls-cert: plain http only on a loopback address`},
		{[]string{"isolate", "--socket", "s", "--token-file", "t"}, cli.ExitUsage, `hwattest isolate: --tls-cert, --tls-key and --token-file need --listen`},
		{[]string{"help", "attest"}, cli.ExitUsage, `hwattest: unknown command "attest"`},
		{[]string{"ek", "--colour"}, cli.ExitUsage, "hwattest ek: flag provided but not defined: -colour\nusage: hwattest ek [--tpm ADDR] [--trust-domain TD] [--json] (see hwattest ek --help)"},
		{[]string{"ek", "extra"}, cli.ExitUsage, `hwattest ek: unexpected argument "extra"`},
		{[]string{"ek-cas", "extra"}, cli.ExitUsage, `hwattest ek-cas: unexpected argument "extra"`},
		{[]string{"ek", "--ek-algorithm", "dsa"}, cli.ExitUsage, `hwattest ek: --ek-algorithm "dsa": want rsa or ecc`},
		{[]string{"ek", "--trust-domain", "Not A Domain"}, cli.ExitUsage, `hwattest ek: --trust-domain "Not A Domain": trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`},
		{[]string{"ek", "--ek-ca", missing}, cli.ExitUsage, "hwattest ek: --ek-ca: stat " + missing + ": no such file or directory"},
		{[]string{"ek", "--ek-ca", notJSON}, cli.ExitUsage, "hwattest ek: --ek-ca: no PEM certificate in " + notJSON},
		{[]string{"evidence"}, cli.ExitUsage, "hwattest evidence: -o FILE is required"},
		{[]string{"evidence", "-o", "x.json", "--pcrs", "sha256:0-24"}, cli.ExitUsage, "hwattest evidence: --pcrs: PCR 24 is out of range 0..23"},
		{[]string{"evidence", "-o", "x.json", "--pcrs", "0-7"}, cli.ExitUsage, `hwattest evidence: --pcrs: "0-7": start with a bank, as in sha256:0-7`},
		{[]string{"evidence", "-o", "x.json", "--pcrs", "md5:0"}, cli.ExitUsage, `hwattest evidence: --pcrs: unknown PCR bank "md5" (want sha1, sha256, sha384 or sha512)`},
		{[]string{"evidence", "-o", "x.json", "--ak-algorithm", "dsa"}, cli.ExitUsage, `hwattest evidence: key algorithm "dsa": want rsa or ecc`},
		{[]string{"evidence", "-o", "x.json", "--ima-log", "/sys/kernel/security/ima/binary_runtime_measurements"}, cli.ExitUsage,
			"hwattest evidence: --ima-log needs PCR 10, which IMA extends, in --pcrs (e.g. --pcrs sha256:0-7,10)"},
		{[]string{"verify"}, cli.ExitUsage, "hwattest verify: no evidence file given"},
		{[]string{"verify", missing}, cli.ExitUsage, "hwattest verify: open " + missing + ": no such file or directory"},
		{[]string{"verify", notJSON}, cli.ExitUsage, "hwattest verify: " + notJSON + ": evidence: invalid character 'P' looking for beginning of value"},
		{[]string{"verify", live}, cli.ExitUsage, "hwattest verify: " + live + `: evidence: json: unknown field "live"`},
		{[]string{"verify", "--policy", badPolicy, notJSON}, cli.ExitUsage, "hwattest verify: --policy: " + badPolicy + `: unknown configuration key "policy.p.colour"`},
		{[]string{"verify", "--policy", noPolicy, notJSON}, cli.ExitUsage, "hwattest verify: --policy: no policy block in " + noPolicy},
		{[]string{"verify", "--require", "trust-me", notJSON}, cli.ExitUsage, `hwattest verify: --require "trust-me": want certificate, hash, either, both or none`},
		{[]string{"verify", "--require", "hash", notJSON}, cli.ExitUsage, "hwattest verify: --require hash needs --ek-hashes"},
		{[]string{"verify", "--bundled-ek-cas=false", notJSON}, cli.ExitUsage, "hwattest verify: --require certificate needs --ek-ca or --bundled-ek-cas"},
		{[]string{"reference", "--name", "x", notJSON}, cli.ExitUsage, "hwattest reference: -o FILE is required"},
		{[]string{"reference", "-o", "p.hcl", notJSON}, cli.ExitUsage, "hwattest reference: --name NAME is required"},
		{[]string{"reference", "-o", "p.hcl", "--name", "level 3", notJSON}, cli.ExitUsage, `hwattest reference: --name "level 3": letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128`},
		{[]string{"reference", "-o", "p.hcl", "--name", "x", "--on-difference", "merge", notJSON}, cli.ExitUsage, `hwattest reference: --on-difference "merge": want list or omit`},
		{[]string{"reference", "-o", "p.hcl", "--name", "x"}, cli.ExitUsage, "hwattest reference: no evidence file given"},
		{[]string{"reference", "-o", "p.hcl", "--name", "x", notJSON}, cli.ExitUsage, "hwattest reference: " + notJSON + ": evidence: invalid character 'P'"},
		// An unreachable TPM is exit code 3.
		{[]string{"ek", "--tpm", unreachable}, cli.ExitTPM, "hwattest ek: no TPM at swtpm://127.0.0.1:1: give its address with --tpm (/dev/tpmrm0, /dev/tpm0, swtpm://host:port or swtpm+unix:///path): attester: connect to swtpm at 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"},
		// Without a TPM at the default address, the error says --tpm.
		{[]string{"ek", "--tpm", missing}, cli.ExitTPM, "hwattest ek: no TPM at " + missing + ": give its address with --tpm"},
		{[]string{"evidence", "-o", filepath.Join(dir, "x.json"), "--tpm", unreachable, "--event-log", "-"}, cli.ExitTPM, "hwattest evidence: no TPM at swtpm://127.0.0.1:1: give its address with --tpm"},
		{[]string{"ek", "--tpm", "tcp://127.0.0.1:1"}, cli.ExitTPM, `hwattest ek: no TPM at tcp://127.0.0.1:1: give its address with --tpm (/dev/tpmrm0, /dev/tpm0, swtpm://host:port or swtpm+unix:///path): attester: unsupported TPM address "tcp://127.0.0.1:1"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, tc.args...)
			if r.code != tc.code || !strings.HasPrefix(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and\n%s", r.code, r.stderr, tc.code, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.json")); err == nil {
		t.Error("a failed capture left a file")
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := mustRun(t, cli.ExitOK, args...)
		if !strings.Contains(r.stdout, "Exit codes:\n  0  done") || !strings.Contains(r.stdout, "NOT live attestations") {
			t.Errorf("%v:\n%s", args, r.stdout)
		}
	}
	for _, cmd := range []string{"ek", "ek-cas", "evidence", "reference", "verify", "report", "claims", "isolate"} {
		a := mustRun(t, cli.ExitOK, cmd, "--help")
		b := mustRun(t, cli.ExitOK, "help", cmd)
		if a.stdout != b.stdout || !strings.HasPrefix(a.stdout, "Usage: hwattest "+cmd) || !strings.Contains(a.stdout, "\nFlags:\n") ||
			!strings.Contains(a.stdout, "Exit codes: 0 ok, 1 verification failed or policy not met, 2 usage or input error, 3 TPM unreachable, 4 SPIRE server unreachable.") {
			t.Errorf("help for %s:\n%s", cmd, a.stdout)
		}
	}
}

// TestSimulator runs ek and evidence against the reference simulator (no
// swtpm process): ECC EK, two banks, a test vendor CA given with --ek-ca.
func TestSimulator(t *testing.T) {
	sim := tpmtest.Simulator(t)
	ca := tpmtest.NewCA(t, "sim EK CA")
	tpmtest.CertifyEKs(t, sim, ca, "id:494E5443", "PTT", "id:00020008")
	addr := tpmtest.ServeSimulator(t, sim)
	caPath := ca.WritePEM(t)

	r := mustRun(t, cli.ExitOK, "ek", "--tpm", addr, "--ek-algorithm", "ecc", "--ek-ca", caPath)
	for _, want := range []string{"EK key ECC P-256", "certified TPM manufacturer id:494E5443 (Intel), model PTT, firmware version id:00020008",
		"validated yes, against 56 bundled vendor CA certificates and 1 from --ek-ca"} {
		if !has(r.stdout, want) {
			t.Errorf("ek output lacks %q:\n%s", want, r.stdout)
		}
	}
	out := filepath.Join(t.TempDir(), "sim.json")
	r = mustRun(t, cli.ExitOK, "evidence", "--tpm", addr, "--event-log", "-", "--ek-algorithm", "ecc", "--ak-algorithm", "rsa",
		"--pcrs", "sha1:0-7,sha256:0-7,23", "--ek-ca", caPath, "-o", out)
	if !strings.Contains(r.stderr, "quote over sha1:0-7,sha256:0-7,23, no boot event log") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	r = mustRun(t, cli.ExitOK, "verify", "--ek-ca", caPath, out)
	if !has(r.stdout, "SKIP eventlog.replay the evidence has no boot event log") || !has(r.stdout, "PASS quote.pcr_selection sha1:0,1,2,3,4,5,6,7 sha256:0,1,2,3,4,5,6,7,23") {
		t.Errorf("verify:\n%s", r.stdout)
	}
	// Standard output as the evidence file.
	r = mustRun(t, cli.ExitOK, "evidence", "--tpm", addr, "--event-log", "-", "-o", "-")
	if !strings.HasPrefix(r.stdout, "{\n  \"format\": \"hwattest-evidence\",\n  \"version\": 1,\n  \"statement\": \"NOT a live attestation") {
		t.Errorf("stdout starts %.120q", r.stdout)
	}
}
