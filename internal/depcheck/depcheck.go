// Package depcheck is a test helper that keeps package boundaries honest:
// verifier code must build without cgo and must never link device code.
package depcheck

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Forbid fails the test when pkg, built with CGO_ENABLED=0, depends on a
// package whose import path starts with one of banned.
func Forbid(t *testing.T, pkg string, banned ...string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if strings.HasPrefix(dep, b) {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
