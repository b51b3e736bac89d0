//go:build !hwattest_norego

package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
	"github.com/hwattest/hwattest/pkg/policy"
)

// TestVerifyRegoLevel3: on real evidence from a software TPM, the level 3
// template in HCL (as hwattest reference writes it) and in Rego (the
// template of examples/policies/rego with the same values) decide the same
// in hwattest verify: both pass on the reference machine, both fail, with
// their reasons, once its PCR 7 changed.
func TestVerifyRegoLevel3(t *testing.T) {
	m := newMachine(t)
	dir := t.TempDir()
	good := m.capture(t, dir, "good.json")
	hclFile := filepath.Join(dir, "level3-reference.hcl")
	mustRun(t, cli.ExitOK, append([]string{"reference", "-o", hclFile, "--name", "level3-reference", good}, m.caFlags()...)...)
	text, err := os.ReadFile(hclFile)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := policy.Parse(string(text))
	if err != nil {
		t.Fatal(err)
	}
	ref := blocks["level3-reference"]

	// The Rego template, its placeholders replaced by the same values.
	tmpl, err := os.ReadFile("../../../../examples/policies/rego/level3-reference.rego")
	if err != nil {
		t.Fatal(err)
	}
	banks := map[string]map[string][]string{}
	for _, p := range ref.PCRs {
		alg, idx, _ := strings.Cut(p, ":")
		i, v, _ := strings.Cut(idx, ":")
		if banks[alg] == nil {
			banks[alg] = map[string][]string{}
		}
		banks[alg][i] = append(banks[alg][i], fmt.Sprintf("%q", v))
	}
	var pcrs []string
	for alg, idxs := range banks {
		var lines []string
		for i, vals := range idxs {
			lines = append(lines, fmt.Sprintf("%q: {%s}", i, strings.Join(vals, ", ")))
		}
		sort.Strings(lines)
		pcrs = append(pcrs, fmt.Sprintf("%q: {%s}", alg, strings.Join(lines, ", ")))
	}
	var comps []string
	for _, c := range ref.BootComponents {
		comps = append(comps, fmt.Sprintf("%q", c))
	}
	module := regexp.MustCompile(`(?s)reference_pcrs := \{.*?\n\}\}\n`).ReplaceAllString(string(tmpl), "reference_pcrs := {"+strings.Join(pcrs, ", ")+"}\n")
	module = regexp.MustCompile(`(?s)boot_components := \{.*?\n\}\n`).ReplaceAllString(module, "boot_components := {"+strings.Join(comps, ", ")+"}\n")
	if module == string(tmpl) || strings.Contains(module, strings.Repeat("0", 64)) {
		t.Fatalf("placeholders not replaced:\n%s", module)
	}
	regoDir := filepath.Join(dir, "rego")
	writeFile(t, filepath.Join(regoDir, "level3-reference.rego"), module)
	hclText, err := os.ReadFile("../../../../examples/policies/rego/level3-reference.hcl")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(regoDir, "level3-reference.hcl"), string(hclText))

	for _, p := range []string{hclFile, regoDir} {
		r := mustRun(t, cli.ExitOK, append([]string{"verify", "--policy", p, good}, m.caFlags()...)...)
		if !has(r.stdout, "result: PASS: the evidence verifies and meets all 1 policies") {
			t.Errorf("verify --policy %s on the reference machine:\n%s", p, r.stdout)
		}
	}
	m.measure(t, 7, "hwattest test: an extra PCR 7 measurement")
	changed := m.capture(t, dir, "changed.json")
	for _, p := range []string{hclFile, regoDir} {
		r := mustRun(t, cli.ExitFailed, append([]string{"verify", "--policy", p, changed}, m.caFlags()...)...)
		if !has(r.stdout, "result: FAIL: the evidence verifies; 1 of 1 policies not met: level3-reference") || !strings.Contains(r.stdout, "PCR 7 is ") {
			t.Errorf("verify --policy %s after PCR 7 changed:\n%s", p, r.stdout)
		}
		t.Logf("verify --policy %s:\n%s", p, r.stdout)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
