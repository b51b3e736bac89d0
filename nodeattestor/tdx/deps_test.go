package tdx_test

import (
	"testing"

	"github.com/hwattest/hwattest/internal/depcheck"
)

// TestProductBinariesLinkNoTestHelpers: the tdx plugin binaries link none
// of go-tdx-guest's test helpers nor internal/tdxtest's test-only quote
// generator; the server links no guest client.
func TestProductBinariesLinkNoTestHelpers(t *testing.T) {
	depcheck.Forbid(t, "github.com/hwattest/hwattest/cmd/nodeattestor-tdx-server",
		"github.com/google/go-tdx-guest/testing", "github.com/google/go-tdx-guest/client",
		"github.com/hwattest/hwattest/internal/tdxtest")
	depcheck.Forbid(t, "github.com/hwattest/hwattest/cmd/nodeattestor-tdx-agent",
		"github.com/google/go-tdx-guest/testing", "github.com/hwattest/hwattest/internal/tdxtest")
}
