package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHashListReload(t *testing.T) {
	dir := t.TempDir()
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	file := filepath.Join(dir, "list")
	if err := os.WriteFile(file, []byte(a+" # node 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := newHashList([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if !h.contains(a) || h.contains(b) {
		t.Fatal("initial list wrong")
	}
	if reloaded, err := h.refresh(); err != nil || reloaded {
		t.Fatalf("unchanged list reloaded: %v %v", reloaded, err)
	}
	// Enrol b by adding a file named by its hash; remove a.
	if err := os.WriteFile(filepath.Join(dir, b), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("# empty\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	os.Chtimes(file, future, future)
	if reloaded, err := h.refresh(); err != nil || !reloaded {
		t.Fatalf("changed list not reloaded: %v %v", reloaded, err)
	}
	if h.contains(a) || !h.contains(b) {
		t.Fatal("reloaded list wrong")
	}
	// A broken edit keeps the previous list.
	if err := os.WriteFile(file, []byte("not a hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.refresh(); err == nil || !strings.Contains(err.Error(), "line 1: not a hex SHA-256") {
		t.Fatalf("err = %v", err)
	}
	if !h.contains(b) {
		t.Fatal("a broken edit dropped the list")
	}
}
