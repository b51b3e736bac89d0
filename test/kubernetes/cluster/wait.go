package cluster

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hwattest/hwattest/internal/containertest"
)

// caPool returns the cluster CA as a certificate pool.
func (c *Cluster) caPool() (*x509.CertPool, error) {
	b, err := c.pki.pemFile("ca.crt")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("cluster CA: no certificate")
	}
	return pool, nil
}

// waitHTTP waits until url answers 200 (verifying its certificate against
// roots when it is HTTPS) while d runs.
func (c *Cluster) waitHTTP(d *containertest.Daemon, url string, roots *x509.CertPool) error {
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
	}
	err := poll(controlPlaneTimeout, func() error {
		if d.Exited() {
			return errors.New("exited")
		}
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s not healthy: %w\n%s", d.Name, err, d.LogTail())
	}
	return nil
}

// waitAPI waits until the API server answers "ok" on path as the
// administrator.
func (c *Cluster) waitAPI(d *containertest.Daemon, path string) error {
	err := poll(controlPlaneTimeout, func() error {
		if d.Exited() {
			return errors.New("exited")
		}
		out, err := c.kubectl(nil, "get", "--raw", path)
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "ok" {
			return fmt.Errorf("%s: %q", path, out)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s not ready: %w\n%s", d.Name, err, d.LogTail())
	}
	return nil
}

// killWait sends SIGKILL to pid and waits up to 5 s for it to be gone.
func killWait(pid int) error {
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return poll(5*time.Second, func() error {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			return fmt.Errorf("process %d still there", pid)
		}
		return nil
	})
}
