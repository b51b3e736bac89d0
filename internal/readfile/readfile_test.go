package readfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
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

func TestList(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b", "a"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(dir, "b")
	got, err := readfile.List([]string{dir, single})
	want := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), single}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List = %q, %v; want %q", got, err, want)
	}
	if _, err := readfile.List([]string{filepath.Join(dir, "missing")}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	// A FIFO, named or in a directory, is never read: a read would block.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readfile.List([]string{dir}); err != nil || !slices.Equal(got, want[:2]) {
		t.Errorf("directory with a FIFO: %q, %v", got, err)
	}
	// A ConfigMap volume's layout: name -> ..data/name, ..data -> a
	// timestamped directory. The links to files count; the one to a
	// directory, a broken one and one to a FIFO do not.
	cm := filepath.Join(dir, "configmap")
	if err := os.MkdirAll(filepath.Join(cm, "..2026_01_01"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cm, "..2026_01_01", "ca.pem"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"..data": "..2026_01_01", "ca.pem": "..data/ca.pem", "broken": "..data/missing", "pipe": fifo,
	} {
		if err := os.Symlink(target, filepath.Join(cm, link)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := readfile.List([]string{cm}); err != nil || !slices.Equal(got, []string{filepath.Join(cm, "ca.pem")}) {
		t.Errorf("ConfigMap volume: %q, %v", got, err)
	}
	for _, p := range []string{fifo, "/dev/null"} {
		if _, err := readfile.List([]string{p}); err == nil || err.Error() != p+" is neither a regular file nor a directory" {
			t.Errorf("%s: %v", p, err)
		}
	}
}
