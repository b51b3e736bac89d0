package attester_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

func TestOpenAddresses(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"tcp://127.0.0.1:1", `attester: unsupported TPM address "tcp://127.0.0.1:1" (want a device path, swtpm://host:port or swtpm+unix:///path)`},
		{"swtpm://127.0.0.1:1", "attester: connect to swtpm at 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"},
		{"/nonexistent/tpm0", "attester: open /nonexistent/tpm0: stat /nonexistent/tpm0: no such file or directory"},
	} {
		_, err := attester.Open(tc.addr)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Open(%q) = %v, want %q", tc.addr, err, tc.want)
		}
	}
}

// TestPersistedAK checks that a persisted AK is reused across sessions and
// TPM restarts, and that the file holds no private key in the clear.
func TestPersistedAK(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	akPath := filepath.Join(t.TempDir(), "ak.json")
	public := func() []byte {
		tpm, err := attester.Open(sw.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer tpm.Close()
		s, att, err := attester.Begin(tpm, attester.Config{AKPath: akPath, EventLogPath: "-"})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		return att.AK.Public
	}
	first := public()
	if again := public(); !bytes.Equal(first, again) {
		t.Error("a second session made a new AK instead of loading the persisted one")
	}
	if err := sw.Restart(); err != nil {
		t.Fatal(err)
	}
	if again := public(); !bytes.Equal(first, again) {
		t.Error("the persisted AK did not load after a TPM restart")
	}
	fi, err := os.Stat(akPath)
	if err != nil || fi.Size() == 0 {
		t.Fatalf("AK file: %v", err)
	}
}

// TestFlushesEverything runs more sessions than swtpm has object slots (3):
// a leaked transient object would make a later session fail.
func TestFlushesEverything(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	tpm, err := attester.Open(sw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	for i := 0; i < 5; i++ {
		s, _, err := attester.Begin(tpm, attester.Config{EKAlgorithm: attester.ECC, EventLogPath: "-"})
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		s.Close()
	}
	_, _, err = attester.Begin(tpm, attester.Config{AKAlgorithm: "dsa"})
	if err == nil || !strings.Contains(err.Error(), `attester: ak algorithm "dsa": want "rsa" or "ecc"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestReadEK reads the EK more often than swtpm has object slots, so a
// leaked transient EK would fail a later read, and finds the key and the
// certificate Begin uses.
func TestReadEK(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	tpm, err := attester.Open(sw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	for _, alg := range []attester.KeyAlgorithm{"", attester.ECC} {
		var ek *attester.EK
		for i := 0; i < 5; i++ {
			if ek, err = attester.ReadEK(tpm, alg); err != nil {
				t.Fatalf("%q read %d: %v", alg, i, err)
			}
		}
		s, _, err := attester.Begin(tpm, attester.Config{EKAlgorithm: alg, EventLogPath: "-"})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ek.Certificate, s.EK().Certificate) || len(ek.Certificate) == 0 {
			t.Errorf("%q: ReadEK certificate differs from Begin's", alg)
		}
		s.Close()
	}
	if _, err := attester.ReadEK(tpm, "dsa"); err == nil || err.Error() != `attester: ek algorithm "dsa": want "rsa" or "ecc"` {
		t.Errorf("err = %v", err)
	}
	info, err := attester.ReadInfo(tpm)
	if err != nil || info.Manufacturer != "IBM" {
		t.Errorf("info %+v, %v", info, err)
	}
}
