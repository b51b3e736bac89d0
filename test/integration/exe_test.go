package integration_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/hwattest/hwattest/test/integration/harness"
)

// sha256File returns the hex SHA-256 of a file's contents.
func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestExeSHA256: through a real SPIRE agent with the exe attestor, an entry
// with exe:sha256:<hash> gives a process running that binary an SVID; the
// same program with one byte more (another hash) gets none.
func TestExeSHA256(t *testing.T) {
	harness.SPIRE(t)
	s := startWorkloadSetup(t, "")
	bin := svidClient(t)
	dir := harness.Dir(t)
	registered := filepath.Join(dir, "registered")
	other := filepath.Join(dir, "other")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	// An ELF file runs the same with data after its end.
	for path, content := range map[string][]byte{registered: b, other: append(b, 0)} {
		if err := os.WriteFile(path, content, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hash, otherHash := sha256File(t, registered), sha256File(t, other)
	workload := "spiffe://" + harness.TrustDomain + "/exe-workload"
	s.register(t, workload, "exe:sha256:"+hash)

	start := func(path string) (string, int) {
		out := harness.Dir(t)
		p := harness.Start(t, out, filepath.Base(path), path, "-socket", "unix://"+s.agent.Socket, "-out", filepath.Join(out, "status"))
		return out, p.Pid()
	}
	out, pid := start(registered)
	waitSVID(t, out, workload)
	s.wantSelectors(t, pid, "exe", "sha256:"+hash, "path:"+registered)
	t.Logf("binary %s: SVID issued", hash)

	otherOut, otherPID := start(other)
	waitRefused(t, otherOut)
	s.wantSelectors(t, otherPID, "exe", "sha256:"+otherHash, "path:"+other)
	t.Logf("binary %s: no SVID", otherHash)
	if got := readStatus(out); got != statusOK+workload {
		t.Errorf("the registered binary's status became %q", got)
	}
}
