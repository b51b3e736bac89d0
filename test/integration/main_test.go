// Package integration_test runs hwattest's plugins inside real SPIRE
// deployments: spire-server and spire-agent v1.13.3 built from the module
// proxy, swtpm with a real EK certificate chain, PostgreSQL. Each test has
// its own processes, ports and directories; see package harness.
package integration_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hwattest/hwattest/test/integration/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.RemovePlugins()
	if svidClientPath != "" {
		os.RemoveAll(filepath.Dir(svidClientPath))
	}
	if mtlsDir != "" {
		os.RemoveAll(mtlsDir)
	}
	os.Exit(code)
}
