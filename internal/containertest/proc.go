package containertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/prereq"
)

const (
	// logTail is how much of a log a failed test prints.
	logTail = 16 << 10
	// stopTimeout bounds the wait for a daemon to exit after SIGTERM.
	stopTimeout = 15 * time.Second
	// commandTimeout bounds one ctr or podman command.
	commandTimeout = 2 * time.Minute
)

// Missing fails the test when CI=true and skips it otherwise.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	prereq.Missing(tb, format, args...)
}

// need checks that the commands are on PATH and that the test runs as
// root.
func need(tb testing.TB, hint string, commands ...string) {
	tb.Helper()
	for _, c := range commands {
		if _, err := exec.LookPath(c); err != nil {
			Missing(tb, "%s not found (%s)", c, hint)
		}
	}
	if os.Geteuid() != 0 {
		Missing(tb, "container runtimes need root")
	}
}

// Dir returns a short temporary directory (unix socket paths are limited
// to 107 bytes), removed at cleanup.
func Dir(tb testing.TB, prefix string) string {
	tb.Helper()
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := os.RemoveAll(d); err != nil {
			tb.Logf("remove %s: %v", d, err)
		}
	})
	return d
}

// Run runs bin with args to completion (at most two minutes) and returns
// its standard output; the error quotes standard error.
func Run(bin string, args ...string) (string, error) { return RunInput(nil, bin, args...) }

// RunInput is Run with stdin as the command's standard input.
func RunInput(stdin []byte, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), err
}

// poll calls fn every 50 ms until it succeeds or timeout passes.
func poll(timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(b []byte) []byte {
	if len(b) > logTail {
		return append([]byte("...\n"), b[len(b)-logTail:]...)
	}
	return b
}

// syncWriter makes a writer safe for concurrent use.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(tb testing.TB, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		// Field 5 is the mount point, octal-escaped; the directories
		// made here have no characters that need escaping.
		if mp := f[4]; mp == dir || strings.HasPrefix(mp, dir+"/") {
			points = append(points, mp)
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil {
			tb.Logf("unmount %s: %v", points[i], err)
		}
	}
}
