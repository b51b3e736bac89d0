package snpreport_test

import (
	"testing"

	"github.com/hwattest/hwattest/internal/depcheck"
)

// TestVerifierLinksNoDeviceCode: the verifier builds without cgo and links
// neither the guest device client nor go-sev-guest's test signer.
func TestVerifierLinksNoDeviceCode(t *testing.T) {
	depcheck.Forbid(t, "github.com/hwattest/hwattest/pkg/snpreport",
		"github.com/google/go-sev-guest/client",
		"github.com/google/go-sev-guest/testing",
		"github.com/hwattest/hwattest/internal/snptest",
		"runtime/cgo")
}

// TestProductBinariesLinkNoTestSigner: neither plugin binary links the
// test-only signer, whose keys are public. (Package testing itself is
// linked by go-plugin and go-spiffe in every plugin binary.)
func TestProductBinariesLinkNoTestSigner(t *testing.T) {
	for _, cmd := range []string{"nodeattestor-sevsnp-agent", "nodeattestor-sevsnp-server"} {
		depcheck.Forbid(t, "github.com/hwattest/hwattest/cmd/"+cmd,
			"github.com/google/go-sev-guest/testing",
			"github.com/hwattest/hwattest/internal/snptest")
	}
}
