package tpmquote_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestVerifierLinksNoDeviceCode checks the package boundary the design rests
// on: the verifier builds without cgo and never links the attester, a TPM
// transport or the simulator.
func TestVerifierLinksNoDeviceCode(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "github.com/hwattest/hwattest/pkg/tpmquote")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"github.com/hwattest/hwattest/pkg/tpmquote/attester",
			"github.com/google/go-tpm/tpm2/transport/",
			"github.com/google/go-tpm-tools",
			"runtime/cgo",
		} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("verifier depends on %s", dep)
			}
		}
	}
}
