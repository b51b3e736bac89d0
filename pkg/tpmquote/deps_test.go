package tpmquote_test

import (
	"testing"

	"github.com/hwattest/hwattest/internal/depcheck"
)

// TestVerifierLinksNoDeviceCode checks the package boundary the design rests
// on: the verifier builds without cgo and never links the attester, a TPM
// transport or the simulator.
func TestVerifierLinksNoDeviceCode(t *testing.T) {
	depcheck.Forbid(t, "github.com/hwattest/hwattest/pkg/tpmquote",
		"github.com/hwattest/hwattest/pkg/tpmquote/attester",
		"github.com/google/go-tpm/tpm2/transport/",
		"github.com/google/go-tpm-tools",
		"runtime/cgo")
}
