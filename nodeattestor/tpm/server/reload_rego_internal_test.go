//go:build !hwattest_norego

package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// TestPolicyReloadWatchesRego: the Rego module a policy names (rego_path) is
// watched with the policy files, as its IMA allowlists are: editing the
// module alone changes the decision at the next attestation, and a module
// that no longer compiles keeps the previous decision in force.
func TestPolicyReloadWatchesRego(t *testing.T) {
	dir := t.TempDir()
	module := filepath.Join(dir, "level.rego")
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	allow := "package hwattest\n\nallow := true\n"
	refuse := "package hwattest\n\nallow := false\n\ndeny contains \"edited\"\n"
	write(module, allow)
	write(filepath.Join(dir, "level.hcl"), "policy \"level\" {\n  rego_path = \"level.rego\"\n}\n")
	quoted := tpmquote.PCRSelection{tpmquote.SHA256: {0, 1, 2, 3, 4, 5, 6, 7}}
	r := newPolicies(nil, []string{dir}, quoted, false)
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	res := &tpmquote.Result{}
	if fails := r.get().policies[0].Evaluate(res); len(fails) != 0 {
		t.Fatalf("first module: %v", fails)
	}
	if changed, err := r.refresh(); changed || err != nil {
		t.Fatalf("refresh of unchanged files: %v %v", changed, err)
	}
	write(module, refuse)
	if changed, err := r.refresh(); !changed || err != nil {
		t.Fatalf("edited module: %v %v", changed, err)
	}
	if fails := r.get().policies[0].Evaluate(res); !strings.Contains(strings.Join(fails, "; "), "deny: edited") {
		t.Fatalf("edited module decided %v, want its deny reason", fails)
	}
	write(module, "package hwattest\n\nallow := \n")
	if _, err := r.refresh(); err == nil || !strings.Contains(err.Error(), "rego_path") {
		t.Fatalf("broken module: %v", err)
	}
	if fails := r.get().policies[0].Evaluate(res); !strings.Contains(strings.Join(fails, "; "), "deny: edited") {
		t.Errorf("a broken module replaced the policy in force: %v", fails)
	}
}
