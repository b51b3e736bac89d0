package evidence_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/evidence"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// FuzzDecode checks that no input panics the decoder, that every refusal
// carries the package prefix once, and that what decodes re-encodes and
// decodes to the same file. Seeds in testdata/fuzz/FuzzDecode are evidence
// files made on the simulator; HWATTEST_WRITE_SEEDS=1 go test -run
// TestWriteFuzzSeeds regenerates them.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"format":"hwattest-evidence","version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := evidence.Decode(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "evidence: ") || strings.HasPrefix(err.Error(), "evidence: evidence: ") {
				t.Fatalf("error without a single package prefix: %q", err)
			}
			return
		}
		out, err := file.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := evidence.Decode(out)
		if err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		if out2, _ := again.Encode(); string(out2) != string(out) {
			t.Fatal("re-encoding is not stable")
		}
		// Verification of what decodes must not panic either (no EK CA: the
		// EK is refused after its public area and certificate are parsed).
		_, err = file.Verify(evidence.Options{EK: tpmquote.EKPolicy{Require: tpmquote.RequireHash, Listed: func(string) bool { return true }}})
		if err != nil && !strings.HasPrefix(err.Error(), "evidence: ") {
			t.Fatalf("verify error without the package prefix: %q", err)
		}
	})
}

// TestWriteFuzzSeeds writes evidence files made on the simulator as seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("HWATTEST_WRITE_SEEDS") != "1" {
		t.Skip("set HWATTEST_WRITE_SEEDS=1 to regenerate the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, withLog := range map[string]bool{"sim-no-log": false, "sim-crypto-agile-log": true} {
		// A subtest each: the simulator is one per process, released when
		// the (sub)test that took it ends.
		t.Run(name, func(t *testing.T) {
			b, _ := captured(t, withLog)
			seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(seed), 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}
