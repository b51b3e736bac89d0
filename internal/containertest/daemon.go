package containertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Daemon is a child process logging to a file: a test's containerd,
// podman service or Kubernetes component.
type Daemon struct {
	Name string
	// Log is the file its standard output and error go to.
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartDaemon runs bin with args until Stop; its output goes to
// dir/name.log. It gets its own process group, and deathSignal if the test
// binary dies before its cleanup.
func StartDaemon(dir, name, bin string, deathSignal syscall.Signal, args ...string) (*Daemon, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSignal}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &Daemon{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(d.done)
	}()
	return d, nil
}

// startDaemon is StartDaemon for a test: stopped at its cleanup, which
// prints the end of the log when the test failed.
func startDaemon(tb testing.TB, dir, name, bin string, args ...string) *Daemon {
	tb.Helper()
	d, err := StartDaemon(dir, name, bin, syscall.SIGTERM, args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		d.Stop()
		if tb.Failed() {
			tb.Logf("==== %s log (%s) ====\n%s", name, d.Log, d.LogTail())
		}
	})
	return d
}

// Stop sends SIGTERM, then SIGKILL after 15 s, and waits.
func (d *Daemon) Stop() {
	if d == nil || d.Exited() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// Exited reports whether the daemon has exited.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// LogTail is the end of the daemon's log.
func (d *Daemon) LogTail() string {
	b, _ := os.ReadFile(d.Log)
	return string(tail(b))
}
