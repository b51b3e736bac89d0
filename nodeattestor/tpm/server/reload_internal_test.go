package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// TestPolicyReloadWatchesAllowlists: the IMA allowlist files a policy names
// are watched with the policy files: loading them is no change (no reload
// at the first attestation), editing one is, and a broken one keeps the
// previous policies.
func TestPolicyReloadWatchesAllowlists(t *testing.T) {
	dir := t.TempDir()
	allow := filepath.Join(dir, "allow.sha256sum")
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	write(allow, a+"  /usr/bin/a\n")
	write(filepath.Join(dir, "runtime.hcl"), "policy \"runtime\" {\n  ima_allowlist_paths = [\"allow.sha256sum\"]\n}\n")
	quoted := tpmquote.PCRSelection{tpmquote.SHA256: {0, 1, 2, 3, 4, 5, 6, 7, 10}}
	r := newPolicies(nil, []string{dir}, quoted, false)
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if changed, err := r.refresh(); changed || err != nil {
			t.Fatalf("refresh %d of unchanged files: %v %v", i, changed, err)
		}
	}
	write(allow, b+"  /usr/bin/b\n")
	if changed, err := r.refresh(); !changed || err != nil {
		t.Fatalf("edited allowlist: %v %v", changed, err)
	}
	if p := r.get().policies[0]; !p.IMAAllowlist[b] || p.IMAAllowlist[a] {
		t.Errorf("allowlist %v", p.IMAAllowlist)
	}
	write(allow, "not a digest\n")
	if _, err := r.refresh(); err == nil || !strings.Contains(err.Error(), `"not" is not a hex digest`) {
		t.Fatalf("broken allowlist: %v", err)
	}
	if changed, err := r.refresh(); changed || err != nil {
		t.Fatalf("the same broken version reported twice: %v %v", changed, err)
	}
	if p := r.get().policies[0]; !p.IMAAllowlist[b] {
		t.Error("a broken allowlist dropped the policy in force")
	}
}
