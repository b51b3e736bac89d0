package harness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/prereq"
)

// SPIREBinEnv names the directory holding spire-server and spire-agent
// (what test/integration/spire-bin prints; make test sets it).
const SPIREBinEnv = "HWATTEST_SPIRE_BIN"

// Missing fails the test when CI=true and skips it otherwise.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	prereq.Missing(tb, format, args...)
}

// SPIRE returns the paths of spire-server and spire-agent.
func SPIRE(tb testing.TB) (server, agent string) {
	tb.Helper()
	dir := os.Getenv(SPIREBinEnv)
	if dir == "" {
		Missing(tb, "%s is not set: run `make test`, or `export %s=$(test/integration/spire-bin)`", SPIREBinEnv, SPIREBinEnv)
	}
	server, agent = filepath.Join(dir, "spire-server"), filepath.Join(dir, "spire-agent")
	for _, p := range []string{server, agent} {
		if _, err := os.Stat(p); err != nil {
			Missing(tb, "%v", err)
		}
	}
	return server, agent
}

// Plugin is a built plugin binary and its SHA-256 for plugin_checksum.
type Plugin struct {
	Path     string
	Checksum string
}

var (
	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

// Plugins builds every command under cmd/ once per test binary and returns
// them by name (for example "nodeattestor-tpm-server").
func Plugins(tb testing.TB) map[string]Plugin {
	tb.Helper()
	pluginsOnce.Do(func() {
		pluginsDir, pluginsErr = os.MkdirTemp("", "hwattest-plugins-")
		if pluginsErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", pluginsDir+"/", "./cmd/...")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			pluginsErr = fmt.Errorf("go build ./cmd/...: %w\n%s", err, out)
		}
	})
	if pluginsErr != nil {
		tb.Fatal(pluginsErr)
	}
	entries, err := os.ReadDir(pluginsDir)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]Plugin{}
	for _, e := range entries {
		p := filepath.Join(pluginsDir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = Plugin{Path: p, Checksum: hex.EncodeToString(sum[:])}
	}
	return out
}

// BuildPlugin builds the main package pkg (a path relative to the module
// root, such as a test-only plugin under test/integration) into the
// plugins directory.
func BuildPlugin(tb testing.TB, pkg string) Plugin {
	tb.Helper()
	Plugins(tb)
	out := filepath.Join(pluginsDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, "./"+pkg)
	cmd.Dir = repoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return Plugin{Path: out, Checksum: hex.EncodeToString(sum[:])}
}

// RemovePlugins deletes the plugin binaries Plugins built; call it from
// TestMain after the tests ran.
func RemovePlugins() {
	if pluginsDir != "" {
		os.RemoveAll(pluginsDir)
	}
}

// repoRoot is the module root, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Dir returns a short temporary directory: unix socket paths must stay
// under 108 bytes, which t.TempDir's long names can exceed.
func Dir(tb testing.TB) string {
	tb.Helper()
	d, err := os.MkdirTemp("", "hwit-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Process is a child process whose output goes to a log file that the
// test prints when it fails.
type Process struct {
	Name string
	Log  string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs bin with args, logging to dir/name.log. The process is
// stopped at cleanup, and its log printed if the test failed.
func Start(tb testing.TB, dir, name, bin string, args ...string) *Process {
	tb.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		tb.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Stop()
		if tb.Failed() {
			b, _ := os.ReadFile(logPath)
			tb.Logf("==== %s log (%s) ====\n%s", name, logPath, tail(b, 200))
		}
	})
	return p
}

// tail returns the last n lines of b.
func tail(b []byte, n int) []byte {
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = append([][]byte{[]byte(fmt.Sprintf("... %d lines before", len(lines)-n))}, lines[len(lines)-n:]...)
	}
	return bytes.Join(lines, []byte("\n"))
}

// PID is the process's id (for reading its CPU time from /proc).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM to the process group, then SIGKILL after 10 s.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Exited reports whether the process has exited, and its error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// waitHealthy calls check until it passes, for 60 s, failing at once when
// the process exits.
func (p *Process) waitHealthy(tb testing.TB, check func(context.Context) error) {
	tb.Helper()
	err := Eventually(60*time.Second, func() error {
		if exited, err := p.Exited(); exited {
			return Permanent(fmt.Errorf("%s exited: %v", p.Name, err))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return check(ctx)
	})
	if err != nil {
		tb.Fatalf("%s not healthy: %v", p.Name, err)
	}
}

// restart stops the process and starts bin again with `run -config
// <its directory>/<config>`.
func (p *Process) restart(tb testing.TB, bin, config string) *Process {
	tb.Helper()
	p.Stop()
	dir := filepath.Dir(p.Log)
	return Start(tb, dir, p.Name, bin, "run", "-config", filepath.Join(dir, config))
}

// Pid is the process's ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process exits.
func (p *Process) Done() <-chan struct{} { return p.done }

// LogText returns the process's log so far.
func (p *Process) LogText() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// WaitLog waits until the log contains s or the timeout passes.
func (p *Process) WaitLog(tb testing.TB, s string, timeout time.Duration) {
	tb.Helper()
	p.WaitLogCount(tb, s, 1, timeout)
}

// WaitLogCount waits until the log contains s at least n times.
func (p *Process) WaitLogCount(tb testing.TB, s string, n int, timeout time.Duration) {
	tb.Helper()
	if err := Eventually(timeout, func() error {
		if got := p.LogCount(s); got < n {
			return fmt.Errorf("%s log has %q %d times, want %d", p.Name, s, got, n)
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

// LogCount counts s in the log.
func (p *Process) LogCount(s string) int { return strings.Count(p.LogText(), s) }

// WaitExit waits for the process to exit.
func (p *Process) WaitExit(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		tb.Fatalf("%s still runs after %s", p.Name, timeout)
	}
}

// Eventually calls fn every 200 ms until it succeeds, returns a Permanent
// error, or timeout passes, and returns its last error.
func Eventually(timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		var perm permanent
		if err == nil || errors.As(err, &perm) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Permanent marks an error that Eventually must not retry.
func Permanent(err error) error { return permanent{err} }

type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Run runs a command to completion and returns its combined output.
func Run(ctx context.Context, bin string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), err
}

// WriteFile writes s to dir/name and returns the path.
func WriteFile(tb testing.TB, dir, name, s string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}
