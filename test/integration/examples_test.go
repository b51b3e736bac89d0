package integration_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/test/integration/harness"
)

// TestCLIWalkthrough runs examples/cli/swtpm-walkthrough.sh, the session
// docs/cli.md shows, and checks the docs against what it printed: every
// hwattest command line the docs show, every check and its status, the
// `reference` and `verify` summaries, and the exit codes. The docs abbreviate
// the two --ek-ca flags as "--ek-ca ..." after first showing them, so both
// sides are compared abbreviated; values that change from run to run (hashes,
// times) are not compared.
//
// Not parallel: the script picks its own swtpm ports, so it runs while the
// package's parallel tests (which pick theirs) wait.
func TestCLIWalkthrough(t *testing.T) {
	for _, tool := range []string{"swtpm", "swtpm_setup", "swtpm_localca", "tpm2_pcrextend", "python3", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			harness.Missing(t, "%s not found (apt-get install swtpm swtpm-tools tpm2-tools python3)", tool)
		}
	}
	cmd := exec.Command("../../examples/cli/swtpm-walkthrough.sh")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough: %v\n%s", err, out)
	}
	abbreviate := strings.NewReplacer("--ek-ca $DIR/ca/swtpm-localca-rootca-cert.pem --ek-ca $DIR/ca/issuercert.pem", "--ek-ca ...")
	got := abbreviate.Replace(string(out))
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(got, "\n")

	exits := regexp.MustCompile(`(?m)^\(exit (\d+)\)$`)
	var codes []string
	for _, m := range exits.FindAllStringSubmatch(got, -1) {
		codes = append(codes, m[1])
	}
	// ek-cas, ek, ek with the CA, evidence, reference, verify (passes),
	// evidence after PCR 7 changed, verify (fails), verify without the CA
	// (fails).
	if want := []string{"0", "0", "0", "0", "0", "0", "0", "1", "1"}; !slices.Equal(codes, want) {
		t.Errorf("exit codes %v, want %v:\n%s", codes, want, got)
	}

	check := regexp.MustCompile(`^  (PASS|FAIL|SKIP|INFO)  +(\S+)`)
	outChecks := map[string]bool{}
	for _, l := range lines {
		if m := check.FindStringSubmatch(l); m != nil {
			outChecks[m[1]+" "+m[2]] = true
		}
	}
	shown := 0
	for _, l := range strings.Split(abbreviate.Replace(string(doc)), "\n") {
		switch {
		// report and claims are shown from runs against SPIRE, not the walkthrough.
		case strings.HasPrefix(l, "$ hwattest ") && !strings.HasPrefix(l, "$ hwattest report") && !strings.HasPrefix(l, "$ hwattest claims"):
			l, _, _ = strings.Cut(l, "#")
			l = strings.TrimSpace(l)
			if !slices.Contains(lines, l) {
				t.Errorf("docs/cli.md shows %q; the walkthrough ran no such command", l)
			}
			shown++
		case strings.HasPrefix(l, "result: ") || strings.HasPrefix(l, "wrote policy "):
			if !slices.Contains(lines, l) {
				t.Errorf("docs/cli.md shows %q; the walkthrough printed no such line", l)
			}
			shown++
		default:
			if m := check.FindStringSubmatch(l); m != nil {
				if !outChecks[m[1]+" "+m[2]] {
					t.Errorf("docs/cli.md shows check %s %s; the walkthrough printed no such check", m[1], m[2])
				}
				shown++
			}
		}
	}
	if shown < 20 {
		t.Errorf("only %d lines of docs/cli.md compared; did its examples move?", shown)
	}
	if !strings.Contains(got, "- sha256 PCR 7 is ") {
		t.Errorf("the failed verify does not name PCR 7:\n%s", got)
	}
}

// TestQuickstart runs `make demo`'s script, examples/quickstart/run.sh, on
// swtpm (QS_TPM_MODE=swtpm, so that a machine with a TPM tests the same
// path) with the SPIRE build under test, and checks what README.md says it
// prints: the node's agent ID and selectors (secure boot from the recorded
// boot log it replays), the workload's X509-SVID with the composer's
// extension, and the claims `hwattest claims` decodes from a measured
// workload's SVID.
func TestQuickstart(t *testing.T) {
	harness.SPIRE(t)
	for _, tool := range []string{"swtpm", "swtpm_setup", "python3", "openssl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			harness.Missing(t, "%s not found (apt-get install swtpm swtpm-tools python3 openssl)", tool)
		}
	}
	cmd := exec.Command("../../examples/quickstart/run.sh")
	cmd.Env = append(os.Environ(), "QS_TPM_MODE=swtpm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	got := string(out)
	agentID := regexp.MustCompile(`(?m)^agent ID: spiffe://example\.org/spire/agent/tpm/([0-9a-f]{64})$`).FindStringSubmatch(got)
	if agentID == nil {
		t.Fatalf("no tpm agent ID in the output:\n%s", got)
	}
	for _, want := range []string{
		"  tpm:pub_hash:" + agentID[1] + "\n",
		"  tpm:ek_issuer:CN=swtpm-localca\n",
		"  tpm:policy:genuine\n",
		// From the recorded boot log replayed into swtpm, labelled as such.
		"replaying a RECORDED UEFI boot log into the software TPM (not this machine's boot)",
		"  tpm:secureboot:enabled\n",
		"  tpm:policy:secureboot\n",
		"URI:spiffe://example.org/quickstart/workload",
		// The composer's id-pe-cmw extension, as openssl names it.
		"1.3.6.1.5.5.7.1.35: \n",
		`["application/eat-ucs+json; eat_profile=\"tag:github.com,2023:veraison/ear\""`,
		// hwattest claims --socket on the measured workload's SVID.
		"X509-SVID spiffe://example.org/quickstart/hwattest (workload API unix://$QS_DIR/agent/public/api.sock; from the SPIRE agent)\n",
		"  claims:    EAR (tag:github.com,2023:veraison/ear) in a RATS CMW\n",
		"  node: affirming\n    agent:         spiffe://example.org/spire/agent/tpm/" + agentID[1] + "\n",
		"      tpm:policy:secureboot\n      tpm:pub_hash:" + agentID[1] + "\n      tpm:secureboot:enabled\n",
		"  workload: affirming\n    trust vector:  executables=2 (affirming)\n    selectors:\n      exe:sha256:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the quickstart did not print %q:\n%s", want, got)
		}
	}
}
