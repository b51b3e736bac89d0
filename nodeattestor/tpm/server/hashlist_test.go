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

// TestHashListReloadSameSizeSameTime: an edit that keeps the file's size and
// modification time (a quick edit within the file system's timestamp
// granularity, or a restored mtime) is noticed: removing a TPM from the list
// takes effect.
func TestHashListReloadSameSizeSameTime(t *testing.T) {
	dir := t.TempDir()
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	file := filepath.Join(dir, "list")
	if err := os.WriteFile(file, []byte(a+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHashList([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	if !h.contains(a) {
		t.Fatal("initial list wrong")
	}
	for i, content := range []string{b + "\n", a + "\n", "#" + a[1:] + "\n"} {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		now, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if now.Size() != fi.Size() || !now.ModTime().Equal(fi.ModTime()) {
			t.Fatalf("edit %d changed size or time", i)
		}
		if reloaded, err := h.refresh(); err != nil || !reloaded {
			t.Fatalf("edit %d not reloaded: %v %v", i, reloaded, err)
		}
		if want := content == a+"\n"; h.contains(a) != want {
			t.Errorf("edit %d: contains(a) = %v", i, !want)
		}
		if want := content == b+"\n"; h.contains(b) != want {
			t.Errorf("edit %d: contains(b) = %v", i, !want)
		}
		if reloaded, err := h.refresh(); err != nil || reloaded {
			t.Fatalf("edit %d reloaded twice: %v %v", i, reloaded, err)
		}
	}
	// A file renamed, same contents: its name may be a hash, so it counts.
	if err := os.Rename(file, filepath.Join(dir, b)); err != nil {
		t.Fatal(err)
	}
	h.list = listFiles([]string{dir})
	if reloaded, err := h.refresh(); err != nil || !reloaded || !h.contains(b) {
		t.Fatalf("renamed file: %v %v %v", reloaded, err, h.contains(b))
	}
}
