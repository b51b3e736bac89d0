package cli

import (
	"path/filepath"
	"testing"
)

// TestAllowlistRef: the policy names the allowlist by its base name only
// when the plugin, resolving it against the policy file's directory, finds
// the same file.
func TestAllowlistRef(t *testing.T) {
	dir := t.TempDir()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct{ policy, allowlist, want string }{
		{filepath.Join(dir, "p.hcl"), filepath.Join(dir, "a.sha256sum"), "a.sha256sum"},
		{filepath.Join(dir, "p.hcl"), filepath.Join(dir, "sub", "a.sha256sum"), filepath.Join(dir, "sub", "a.sha256sum")},
		{"-", filepath.Join(dir, "a.sha256sum"), filepath.Join(dir, "a.sha256sum")},
		{"p.hcl", "a.sha256sum", "a.sha256sum"},
		{"-", "a.sha256sum", abs("a.sha256sum")},
		{"policies/p.hcl", "a.sha256sum", abs("a.sha256sum")},
	} {
		got, err := allowlistRef(tc.policy, tc.allowlist)
		if err != nil || got != tc.want {
			t.Errorf("allowlistRef(%q, %q) = %q, %v; want %q", tc.policy, tc.allowlist, got, err, tc.want)
		}
	}
}
