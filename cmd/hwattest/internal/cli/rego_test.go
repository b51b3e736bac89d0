//go:build !hwattest_norego

package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
)

// TestVerifyRegoLevel3: on real evidence from a software TPM, the reference
// policy hwattest reference writes in HCL and the one it writes in Rego
// (--rego; the rules of examples/policies/rego/level3-reference.rego, see
// TestRegoTemplateRules) decide the same in hwattest verify: both pass on
// the reference machine, both fail with the same reasons once its PCR 7
// changed.
func TestVerifyRegoLevel3(t *testing.T) {
	m := newMachine(t)
	dir := t.TempDir()
	good := m.capture(t, dir, "good.json")
	hclFile := filepath.Join(dir, "level3-reference.hcl")
	mustRun(t, cli.ExitOK, append([]string{"reference", "-o", hclFile, "--name", "level3-reference", good}, m.caFlags()...)...)

	regoDir := filepath.Join(dir, "rego")
	if err := os.MkdirAll(regoDir, 0o700); err != nil {
		t.Fatal(err)
	}
	regoHCL, regoFile := filepath.Join(regoDir, "level3-reference.hcl"), filepath.Join(regoDir, "level3-reference.rego")
	r := mustRun(t, cli.ExitOK, append([]string{"reference", "-o", regoHCL, "--rego", regoFile, "--name", "level3-reference", good}, m.caFlags()...)...)
	if !strings.Contains(r.stderr, "4 boot components, in Rego in "+regoFile+"; report-only") {
		t.Errorf("reference --rego stderr:\n%s", r.stderr)
	}
	text, err := os.ReadFile(regoHCL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "  rego_path = \"level3-reference.rego\"\n") {
		t.Errorf("policy block:\n%s", text)
	}
	module, err := os.ReadFile(regoFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"package hwattest\n", "\t\"7\": {\"", "# PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION", `deny contains "the EK has no certificate from a trusted CA"`} {
		if !strings.Contains(string(module), want) {
			t.Errorf("Rego module lacks %q:\n%s", want, module)
		}
	}

	for _, p := range []string{hclFile, regoDir} {
		r := mustRun(t, cli.ExitOK, append([]string{"verify", "--policy", p, good}, m.caFlags()...)...)
		if !has(r.stdout, "result: PASS: the evidence verifies and meets all 1 policies") {
			t.Errorf("verify --policy %s on the reference machine:\n%s", p, r.stdout)
		}
	}
	m.measure(t, 7, "hwattest test: an extra PCR 7 measurement")
	changed := m.capture(t, dir, "changed.json")
	var reasons []string
	for _, p := range []string{hclFile, regoDir} {
		r := mustRun(t, cli.ExitFailed, append([]string{"verify", "--policy", p, changed}, m.caFlags()...)...)
		if !has(r.stdout, "result: FAIL: the evidence verifies; 1 of 1 policies not met: level3-reference") {
			t.Errorf("verify --policy %s after PCR 7 changed:\n%s", p, r.stdout)
		}
		t.Logf("verify --policy %s:\n%s", p, r.stdout)
		var got []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "- ") && !strings.Contains(l, "data.hwattest.allow") {
				got = append(got, strings.TrimPrefix(strings.TrimPrefix(l, "- "), "deny: "))
			}
		}
		reasons = append(reasons, strings.Join(got, "\n"))
	}
	if reasons[0] == "" || reasons[0] != reasons[1] {
		t.Errorf("HCL reasons:\n%s\nRego reasons:\n%s", reasons[0], reasons[1])
	}
}
