package readfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/hwattest/hwattest/internal/readfile"
)

func TestLimited(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := readfile.Limited(p, 5); err != nil || string(b) != "12345" {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	if _, err := readfile.Limited(p, 4); err == nil || err.Error() != p+" is larger than 4 bytes" {
		t.Errorf("over the limit: %v", err)
	}
	// procfs files report size 0 yet have content.
	if b, err := readfile.Limited("/proc/self/status", 1<<20); err != nil || len(b) == 0 {
		t.Errorf("procfs: %d bytes, %v", len(b), err)
	}
	if _, err := readfile.Limited(filepath.Join(t.TempDir(), "missing"), 1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}
