package exe_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/hashicorp/go-hclog"

	"github.com/hwattest/hwattest/internal/logbuf"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
	"github.com/hwattest/hwattest/workloadattestor/exe"
)

// imaNode is a node's IMA state: a log file, the kernel's entry count next
// to it, and swtpm's PCR 10 (sha256 bank) extended with every entry.
type imaNode struct {
	t       testing.TB
	tpm     *swtpmtest.TPM
	dir     string
	entries int
}

func newIMANode(t testing.TB) *imaNode {
	n := &imaNode{t: t, tpm: swtpmtest.Start(t, swtpmtest.Options{}), dir: t.TempDir()}
	n.write("", 0)
	return n
}

func (n *imaNode) logPath() string { return filepath.Join(n.dir, "ascii_runtime_measurements") }

// measure appends the ima-ng entry of the file at path to the log, and
// extends PCR 10 with it unless extend is false (a log that no longer
// replays).
func (n *imaNode) measure(path string, extend bool) {
	n.t.Helper()
	n.measureAs(path, path, extend)
}

// measureAs is measure with the entry naming the file logged instead of
// path.
func (n *imaNode) measureAs(path, logged string, extend bool) {
	n.t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		n.t.Fatal(err)
	}
	line, td := tpmtest.IMANG(logged, content)
	if extend {
		tpm, err := attester.Open(n.tpm.Addr)
		if err != nil {
			n.t.Fatal(err)
		}
		tpmtest.ExtendIMA(n.t, tpm, td, false, tpm2.TPMAlgSHA256)
		tpm.Close()
	}
	n.write(line, 1)
}

// extendUnlogged extends PCR 10 with an entry the log does not hold.
func (n *imaNode) extendUnlogged() {
	n.t.Helper()
	tpm, err := attester.Open(n.tpm.Addr)
	if err != nil {
		n.t.Fatal(err)
	}
	defer tpm.Close()
	_, td := tpmtest.IMANG("/unlogged", []byte("unlogged"))
	tpmtest.ExtendIMA(n.t, tpm, td, false, tpm2.TPMAlgSHA256)
}

func (n *imaNode) write(line string, added int) {
	n.t.Helper()
	f, err := os.OpenFile(n.logPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		n.t.Fatal(err)
	}
	n.entries += added
	if err := os.WriteFile(filepath.Join(n.dir, "runtime_measurements_count"), fmt.Appendf(nil, "%d\n", n.entries), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

func (n *imaNode) hcl() string {
	return fmt.Sprintf("ima_log_path = %q\ntpm = %q\nquote_interval = \"1h\"", n.logPath(), n.tpm.Addr)
}

func TestIMAMeasured(t *testing.T) {
	node := newIMANode(t)
	logs := &logbuf.Buffer{}
	client := servePlugin(t, exe.NewForTest(exe.SHA256(), 0), node.hcl(), hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}))

	path := sleeper(t, nil)
	node.measure(path, true)
	pid := start(t, nil, path, "60")
	want := []string{"sha256:" + sha256File(t, path), "path:" + path, "ima:measured"}
	got, err := attest(client, pid)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("selectors %q, %v; want %q\n%s", got, err, want, logs)
	}

	t.Run("hash not in the log", func(t *testing.T) {
		other := sleeper(t, []byte("unmeasured"))
		got, err := attest(client, start(t, nil, other, "60"))
		want := []string{"sha256:" + sha256File(t, other), "path:" + other}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v; want %q", got, err, want)
		}
	})
	t.Run("same contents at another path", func(t *testing.T) {
		// The log measured these bytes at another path: that is not a
		// measurement of this file, which the kernel never measured.
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		copied := filepath.Join(t.TempDir(), "sleep")
		if err := os.WriteFile(copied, b, 0o755); err != nil {
			t.Fatal(err)
		}
		got, err := attest(client, start(t, nil, copied, "60"))
		want := []string{"sha256:" + sha256File(t, path), "path:" + copied}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v; want %q", got, err, want)
		}
	})
	t.Run("measured after the last refresh", func(t *testing.T) {
		// The kernel's count shows an entry the anchor does not cover:
		// a missing hash refreshes it before the quote interval ends.
		later := sleeper(t, []byte("later"))
		node.measure(later, true)
		got, err := attest(client, start(t, nil, later, "60"))
		want := []string{"sha256:" + sha256File(t, later), "path:" + later, "ima:measured"}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v; want %q\n%s", got, err, want, logs)
		}
	})
	t.Run("entry the TPM never saw", func(t *testing.T) {
		// Appended to the log without extending PCR 10, as an entry the
		// kernel adds after the PCR read looks: not covered, so not
		// measured. The entries before it are still proven.
		forged := sleeper(t, []byte("forged"))
		node.measure(forged, false)
		got, err := attest(client, start(t, nil, forged, "60"))
		want := []string{"sha256:" + sha256File(t, forged), "path:" + forged}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v; want %q", got, err, want)
		}
		got, err = attest(client, pid)
		want = []string{"sha256:" + sha256File(t, path), "path:" + path, "ima:measured"}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v; want %q", got, err, want)
		}
	})
	t.Run("log no longer replays", func(t *testing.T) {
		// PCR 10 extended with something no log entry holds: no prefix
		// of the log replays to it, and the whole log is distrusted,
		// its earlier entries included.
		node.extendUnlogged()
		other := sleeper(t, []byte("after"))
		node.measure(other, true)
		got, err := attest(client, start(t, nil, other, "60"))
		want := []string{"sha256:" + sha256File(t, other), "path:" + other}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v; want %q", got, err, want)
		}
		if !logs.Contains("IMA log does not replay to PCR 10; ima:measured is not emitted", logWait) {
			t.Errorf("no replay warning in the log:\n%s", logs)
		}
		got, err = attest(client, pid)
		want = []string{"sha256:" + sha256File(t, path), "path:" + path}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v; want %q", got, err, want)
		}
	})
}

func TestIMALogDoesNotReplay(t *testing.T) {
	node := newIMANode(t)
	logs := &logbuf.Buffer{}
	client := servePlugin(t, exe.New(), node.hcl(), hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}))
	path := sleeper(t, nil)
	node.extendUnlogged()
	node.measure(path, true)
	got, err := attest(client, start(t, nil, path, "60"))
	want := []string{"sha256:" + sha256File(t, path), "path:" + path}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("selectors %q, %v; want %q", got, err, want)
	}
	if !logs.Contains("IMA log does not replay to PCR 10; ima:measured is not emitted", logWait) {
		t.Errorf("no replay warning in the log:\n%s", logs)
	}
}

func TestIMAUnavailable(t *testing.T) {
	// No TPM at the address: a warning, no ima:measured, no error.
	logs := &logbuf.Buffer{}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "ascii_runtime_measurements")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	client := servePlugin(t, exe.New(), fmt.Sprintf("ima_log_path = %q\ntpm = %q", logPath, "swtpm+unix://"+filepath.Join(dir, "none.sock")),
		hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}))
	path := sleeper(t, nil)
	got, err := attest(client, start(t, nil, path, "60"))
	want := []string{"sha256:" + sha256File(t, path), "path:" + path}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("selectors %q, %v; want %q", got, err, want)
	}
	if !logs.Contains("IMA log not anchored; ima:measured is not emitted", logWait) {
		t.Errorf("no warning in the log:\n%s", logs)
	}
}

// TestIMAPathInChroot: IMA logs a chrooted executable by its path from the
// mount namespace's root, the chroot's prefix included, as /proc/PID/exe
// names it to the agent; path: shows the path inside the chroot.
func TestIMAPathInChroot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	root := chrootWithSleep(t)
	running := filepath.Join(root, "bin/sleep")
	hash := sha256File(t, running)
	for _, tc := range []struct {
		logged   string
		measured bool
	}{
		{running, true},
		{"/bin/sleep", false}, // the path in the chroot is not what IMA logs
	} {
		t.Run(tc.logged, func(t *testing.T) {
			node := newIMANode(t)
			node.measureAs(running, tc.logged, true)
			client := servePlugin(t, exe.New(), node.hcl(), hclog.NewNullLogger())
			pid := start(t, &syscall.SysProcAttr{Chroot: root}, "/bin/sleep", "60")
			want := []string{"sha256:" + hash, "path:/bin/sleep"}
			if tc.measured {
				want = append(want, "ima:measured")
			}
			if got, err := attest(client, pid); err != nil || !slices.Equal(got, want) {
				t.Fatalf("selectors %q, %v; want %q", got, err, want)
			}
		})
	}
}
