package tdxquote_test

import (
	"testing"

	"github.com/hwattest/hwattest/internal/depcheck"
)

// TestVerifierLinksNoDeviceCode: the verifier builds without cgo and links
// neither the TD guest client nor go-tdx-guest's test helpers.
func TestVerifierLinksNoDeviceCode(t *testing.T) {
	depcheck.Forbid(t, "github.com/hwattest/hwattest/pkg/tdxquote",
		"github.com/google/go-tdx-guest/client",
		"github.com/google/go-tdx-guest/testing",
		"runtime/cgo")
}
