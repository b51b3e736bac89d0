// Package prereq decides what a test does when something it needs (swtpm,
// SPIRE, a container runtime, PostgreSQL) is missing: in CI (CI=true) a
// missing prerequisite is a failure, never a silent skip; elsewhere the test
// skips and says what is missing.
package prereq

import (
	"fmt"
	"os"
	"testing"
)

// Missing fails the test when CI=true and skips it otherwise.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		tb.Fatalf("prerequisite missing (CI=true): %s", msg)
	}
	tb.Skipf("prerequisite missing: %s", msg)
}
