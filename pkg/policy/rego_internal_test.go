//go:build !hwattest_norego

package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// TestRegoTimeout: a policy that runs past its time budget fails with that
// reason (a refusal when required), never passes.
func TestRegoTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slow.rego")
	slow := "package hwattest\nallow if count([x | some x in numbers.range(1, 100000000); x > 0]) > 0\n"
	if err := os.WriteFile(path, []byte(slow), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Config{Required: true, RegoPath: path}.Compile("slow", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	p.rego.timeout = 50 * time.Millisecond
	start := time.Now()
	sat, refused := Evaluate([]*Policy{p}, &tpmquote.Result{})
	if len(sat) != 0 || len(refused) != 1 || !strings.Contains(refused[0], "rego: evaluation took longer than 50ms") {
		t.Errorf("satisfied %q, refused %q", sat, refused)
	}
	// The budget stops the evaluation (no timed assertion beyond "it
	// returned": the range alone would take many seconds).
	t.Logf("refused after %s", time.Since(start))
}
