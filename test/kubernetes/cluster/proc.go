package cluster

import (
	"net"
	"syscall"
	"time"

	"github.com/hwattest/hwattest/internal/containertest"
)

// startDaemon runs a cluster component until Stop; its output goes to
// dir/name.log. It dies with the test binary if that is killed before its
// cleanup.
func startDaemon(dir, name, bin string, args ...string) (*containertest.Daemon, error) {
	return containertest.StartDaemon(dir, name, bin, syscall.SIGKILL, args...)
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
