package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// logTail is how much of a component's log a failed test prints.
	logTail = 12 << 10
	// stopTimeout bounds the wait for a component to exit after SIGTERM.
	stopTimeout = 15 * time.Second
	// commandTimeout bounds one kubectl, ctr or ip command.
	commandTimeout = 2 * time.Minute
)

// daemon is one cluster component: a child process logging to a file.
type daemon struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startDaemon runs bin with args; its output goes to dir/name.log.
func startDaemon(dir, name, bin string, args ...string) (*daemon, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, and it dies with the test binary if that is
	// killed before its cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(d.done)
	}()
	return d, nil
}

// stop sends SIGTERM, then SIGKILL after stopTimeout, and waits.
func (d *daemon) stop() {
	if d == nil || d.exited() {
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

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// logTail returns the end of the component's log.
func (d *daemon) logTail() string {
	b, _ := os.ReadFile(d.log)
	if len(b) > logTail {
		b = append([]byte("...\n"), b[len(b)-logTail:]...)
	}
	return string(b)
}

// run runs bin to completion and returns its standard output; the error
// quotes standard error.
func run(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// poll calls fn every 200 ms until it succeeds or timeout passes; the error
// is fn's last.
func poll(timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freePort returns a TCP port on ip that was free a moment ago.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
