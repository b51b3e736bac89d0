package exe_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/logbuf"
	"github.com/hwattest/hwattest/internal/prereq"
	"github.com/hwattest/hwattest/workloadattestor/exe"
)

// countingHasher counts how often the plugin reads a file, and can hold
// every read until released.
type countingHasher struct {
	n    atomic.Int64
	gate chan struct{} // nil: never blocks
}

func (h *countingHasher) Hash(r io.Reader, limit int64) ([32]byte, error) {
	h.n.Add(1)
	if h.gate != nil {
		<-h.gate
	}
	return exe.SHA256().Hash(r, limit)
}

// servePlugin serves p through the go-plugin boundary and configures it.
// logWait bounds the wait for a plugin's log line, which reaches the test
// through go-plugin after the call (logbuf.Buffer.Contains).
const logWait = 5 * time.Second

func servePlugin(t *testing.T, p *exe.Plugin, hcl string, log hclog.Logger) *workloadattestorv1.WorkloadAttestorPluginClient {
	t.Helper()
	client, cfg := new(workloadattestorv1.WorkloadAttestorPluginClient), new(configv1.ConfigServiceClient)
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:   workloadattestorv1.WorkloadAttestorPluginServer(p),
		PluginClient:   client,
		ServiceServers: []pluginsdk.ServiceServer{configv1.ConfigServiceServer(p)},
		ServiceClients: []pluginsdk.ServiceClient{cfg},
		Logger:         log,
	})
	if _, err := cfg.Configure(context.Background(), &configv1.ConfigureRequest{
		CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: "example.org"},
		HclConfiguration:  hcl,
	}); err != nil {
		t.Fatalf("configure: %v", err)
	}
	return client
}

func attest(client *workloadattestorv1.WorkloadAttestorPluginClient, pid int) ([]string, error) {
	resp, err := client.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: int32(pid)})
	return resp.GetSelectorValues(), err
}

// copyExe copies src to dir/name, executable, appending extra bytes (an ELF
// file runs the same with data after its end, so extra changes the hash
// only).
func copyExe(t testing.TB, src, dir, name string, extra []byte) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, append(b, extra...), 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// sleeper copies /bin/sleep to a new directory and returns its path.
func sleeper(t testing.TB, extra []byte) string {
	t.Helper()
	return copyExe(t, "/bin/sleep", t.TempDir(), "sleep", extra)
}

// start runs path with args until the test ends. When Start returns the
// child has executed path (exec reports failure through a close-on-exec
// pipe), so /proc/PID/exe is path.
func start(t testing.TB, attr *syscall.SysProcAttr, path string, args ...string) int {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

func sha256File(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if status.Code(err) != code || status.Convert(err).Message() != msg {
		t.Fatalf("err = %v\nwant %v: %s", err, code, msg)
	}
}

func TestAttest(t *testing.T) {
	h := &countingHasher{}
	client := servePlugin(t, exe.NewForTest(h, 0), "", nil)
	path := sleeper(t, nil)
	pid := start(t, nil, path, "60")
	want := []string{"sha256:" + sha256File(t, path), "path:" + path}

	got, err := attest(client, pid)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("selectors %q, want %q", got, want)
	}
	if n := h.n.Load(); n != 1 {
		t.Fatalf("hashed %d times, want 1", n)
	}

	t.Run("cached for the same process", func(t *testing.T) {
		got, err := attest(client, pid)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v", got, err)
		}
		if n := h.n.Load(); n != 1 {
			t.Fatalf("hashed %d times, want 1", n)
		}
	})
	t.Run("cached for another process of the same file", func(t *testing.T) {
		got, err := attest(client, start(t, nil, path, "60"))
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v", got, err)
		}
		if n := h.n.Load(); n != 1 {
			t.Fatalf("hashed %d times, want 1", n)
		}
	})
	t.Run("another file is hashed", func(t *testing.T) {
		other := sleeper(t, []byte("other"))
		got, err := attest(client, start(t, nil, other, "60"))
		want := []string{"sha256:" + sha256File(t, other), "path:" + other}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v; want %q", got, err, want)
		}
		if n := h.n.Load(); n != 2 {
			t.Fatalf("hashed %d times, want 2", n)
		}
	})
	t.Run("metadata change is a new cache key", func(t *testing.T) {
		// chmod moves ctime: the file is hashed again.
		if err := os.Chmod(path, 0o750); err != nil {
			t.Fatal(err)
		}
		got, err := attest(client, pid)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v", got, err)
		}
		if n := h.n.Load(); n != 3 {
			t.Fatalf("hashed %d times, want 3", n)
		}
	})
}

func TestDeletedOrReplaced(t *testing.T) {
	client := servePlugin(t, exe.New(), "", nil)
	msg := func(pid int, path string) string {
		return fmt.Sprintf("pid %d: %q: executable was deleted or replaced since the process started", pid, path)
	}
	t.Run("deleted", func(t *testing.T) {
		path := sleeper(t, nil)
		pid := start(t, nil, path, "60")
		if _, err := attest(client, pid); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		_, err := attest(client, pid)
		wantStatus(t, err, codes.FailedPrecondition, msg(pid, path))
	})
	t.Run("renamed over", func(t *testing.T) {
		path := sleeper(t, nil)
		pid := start(t, nil, path, "60")
		other := copyExe(t, "/bin/sleep", filepath.Dir(path), "other", []byte("other"))
		if err := os.Rename(other, path); err != nil {
			t.Fatal(err)
		}
		_, err := attest(client, pid)
		wantStatus(t, err, codes.FailedPrecondition, msg(pid, path))
	})
	t.Run("renamed over, another link left", func(t *testing.T) {
		// The inode lives on under another name, but the name the
		// process was started by now holds another file.
		path := sleeper(t, nil)
		if err := os.Link(path, path+".link"); err != nil {
			t.Fatal(err)
		}
		pid := start(t, nil, path, "60")
		other := copyExe(t, "/bin/sleep", filepath.Dir(path), "other", []byte("other"))
		if err := os.Rename(other, path); err != nil {
			t.Fatal(err)
		}
		_, err := attest(client, pid)
		wantStatus(t, err, codes.FailedPrecondition, msg(pid, path))
	})
	t.Run("mounted over", func(t *testing.T) {
		// The kernel still names the running file by its path, which now
		// leads to another file: only the inode comparison tells.
		path := sleeper(t, nil)
		pid := start(t, nil, path, "60")
		other := copyExe(t, "/bin/sleep", t.TempDir(), "other", []byte("other"))
		if err := unix.Mount(other, path, "", unix.MS_BIND, ""); err != nil {
			t.Skipf("bind mount: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(path, unix.MNT_DETACH) })
		_, err := attest(client, pid)
		wantStatus(t, err, codes.FailedPrecondition, fmt.Sprintf("pid %d: %q: path names another file than the one the process runs", pid, path))
	})
}

func TestProcessStates(t *testing.T) {
	client := servePlugin(t, exe.New(), "", nil)
	t.Run("no such process", func(t *testing.T) {
		// Above the kernel's largest pid_max (2^22): never a process.
		_, err := attest(client, math.MaxInt32)
		wantStatus(t, err, codes.NotFound, fmt.Sprintf("pid %d: no such process", math.MaxInt32))
	})
	t.Run("exited process", func(t *testing.T) {
		cmd := exec.Command(sleeper(t, nil), "0")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Skip("pid reused")
		}
		_, err := attest(client, pid)
		wantStatus(t, err, codes.NotFound, fmt.Sprintf("pid %d: no such process", pid))
	})
	t.Run("zombie", func(t *testing.T) {
		cmd := exec.Command(sleeper(t, nil), "0")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		pid := cmd.Process.Pid
		waitZombie(t, pid)
		_, err := attest(client, pid)
		wantStatus(t, err, codes.FailedPrecondition, fmt.Sprintf("pid %d: process has no executable (kernel thread or zombie)", pid))
	})
	t.Run("kernel thread", func(t *testing.T) {
		if b, _ := os.ReadFile("/proc/2/comm"); string(b) != "kthreadd\n" {
			t.Skip("pid 2 is not kthreadd (not in the host PID namespace)")
		}
		_, err := attest(client, 2)
		wantStatus(t, err, codes.FailedPrecondition, "pid 2: process has no executable (kernel thread or zombie)")
	})
	t.Run("bad pid", func(t *testing.T) {
		_, err := attest(client, 0)
		wantStatus(t, err, codes.InvalidArgument, "pid 0 is not a process ID")
		_, err = attest(client, -1)
		wantStatus(t, err, codes.InvalidArgument, "pid -1 is not a process ID")
	})
}

func waitZombie(t *testing.T, pid int) {
	t.Helper()
	for range 500 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// "pid (comm) S ...": the state follows the last ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && strings.HasPrefix(s[i:], ") Z") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d did not become a zombie", pid)
}

func TestNotConfigured(t *testing.T) {
	_, err := exe.New().Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: int32(os.Getpid())})
	wantStatus(t, err, codes.FailedPrecondition, "not configured")
}

func TestTooLarge(t *testing.T) {
	client := servePlugin(t, exe.New(), "max_hash_size = 1000", nil)
	path := sleeper(t, nil)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	pid := start(t, nil, path, "60")
	_, err = attest(client, pid)
	wantStatus(t, err, codes.ResourceExhausted, fmt.Sprintf("pid %d: %q: %d bytes: executable is larger than max_hash_size", pid, path, fi.Size()))
}

func TestCacheBound(t *testing.T) {
	h := &countingHasher{}
	p := exe.NewForTest(h, 0)
	client := servePlugin(t, p, "hash_cache_size = 2", nil)
	var pids []int
	for i := range 3 {
		pids = append(pids, start(t, nil, sleeper(t, []byte{byte(i)}), "60"))
	}
	for _, pid := range append(pids, pids[2], pids[1], pids[0]) {
		if _, err := attest(client, pid); err != nil {
			t.Fatal(err)
		}
	}
	// 0 1 2 miss; 2 and 1 hit (0 was dropped when 2 came); 0 misses.
	if n := h.n.Load(); n != 4 {
		t.Errorf("hashed %d times, want 4", n)
	}
	if n := exe.CacheLen(p); n != 2 {
		t.Errorf("cache holds %d hashes, want 2", n)
	}
}

func TestConcurrentRequestsHashOnce(t *testing.T) {
	h := &countingHasher{gate: make(chan struct{})}
	client := servePlugin(t, exe.NewForTest(h, 0), "", nil)
	path := sleeper(t, nil)
	pid := start(t, nil, path, "60")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = attest(client, pid) })
	}
	// Let the first read start, give the others time to queue behind it.
	for h.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	close(h.gate)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := h.n.Load(); got != 1 {
		t.Fatalf("hashed %d times, want 1", got)
	}
}

// TestChroot runs the executable in a chroot: the kernel names it by the
// agent's path, the selector by the process's.
func TestChroot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	root := chrootWithSleep(t)
	logs := &logbuf.Buffer{}
	client := servePlugin(t, exe.New(), "", hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}))
	pid := start(t, &syscall.SysProcAttr{Chroot: root}, "/bin/sleep", "60")
	hash := sha256File(t, filepath.Join(root, "bin/sleep"))
	got, err := attest(client, pid)
	if want := []string{"sha256:" + hash, "path:/bin/sleep"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("selectors %q, %v; want %q", got, err, want)
	}
	if !logs.Contains("path=/bin/sleep sha256="+hash+" cached=false via_proc_exe=false", logWait) {
		t.Errorf("not opened through the process root:\n%s", logs)
	}

	t.Run("moved out of the root", func(t *testing.T) {
		// The path the kernel gives is not inside the process's root:
		// the file is opened through /proc/PID/exe. It is the same,
		// unmodified file, so it is measured, under the kernel's name
		// (and hashed again: rename moved its ctime).
		outside := filepath.Join(filepath.Dir(root), "moved-sleep")
		if err := os.Rename(filepath.Join(root, "bin/sleep"), outside); err != nil {
			t.Fatal(err)
		}
		got, err := attest(client, pid)
		if want := []string{"sha256:" + hash, "path:" + outside}; err != nil || !slices.Equal(got, want) {
			t.Fatalf("selectors %q, %v; want %q", got, err, want)
		}
		if !logs.Contains("path="+outside+" sha256="+hash+" cached=false via_proc_exe=true", logWait) {
			t.Errorf("not opened through /proc/PID/exe:\n%s", logs)
		}
	})
}

// chrootWithSleep makes a directory holding /bin/sleep and the shared
// libraries ldd lists for it.
func chrootWithSleep(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ldd", "/bin/sleep").Output()
	if err != nil {
		t.Skipf("ldd: %v", err)
	}
	root := filepath.Join(t.TempDir(), "root")
	files := []string{"/bin/sleep"}
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				files = append(files, f)
			}
		}
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		copyExe(t, f, filepath.Join(root, filepath.Dir(f)), filepath.Base(f), nil)
	}
	return root
}

func TestConfigErrorsTogether(t *testing.T) {
	tests := []struct {
		name, hcl, want string
	}{
		{
			name: "without IMA",
			hcl: `max_hash_size = -1
hash_cache_size = -5
tpm = "/dev/tpm0"
quote_interval = "1m"
colour = "blue"`,
			want: `unknown configuration key "colour"
max_hash_size -1: must be positive
hash_cache_size -5: must be positive
tpm needs ima_log_path
quote_interval needs ima_log_path`,
		},
		{
			name: "with IMA",
			hcl: `ima_log_path = "/sys/kernel/security/ima/ascii_runtime_measurements"
quote_interval = "soon"
shape = "round"
colour = "blue"`,
			want: `unknown configuration key "colour"
unknown configuration key "shape"
quote_interval: time: invalid duration "soon"`,
		},
		{
			name: "negative interval",
			hcl: `ima_log_path = "/ima"
quote_interval = "-1s"`,
			want: `quote_interval "-1s": must be positive`,
		},
		{
			name: "syntax",
			hcl:  `max_hash_size = {`,
			want: `parse configuration: At 1:19: object expected closing RBRACE got: EOF`,
		},
		{
			name: "type",
			hcl:  `max_hash_size = "big"`,
			want: `decode configuration: strconv.ParseInt: parsing "big": invalid syntax`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := exe.New()
			_, err := p.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: tt.hcl})
			wantStatus(t, err, codes.InvalidArgument, "invalid configuration: "+tt.want)
			v, err := p.Validate(context.Background(), &configv1.ValidateRequest{HclConfiguration: tt.hcl})
			if err != nil || v.Valid || !slices.Equal(v.Notes, []string{tt.want}) {
				t.Errorf("Validate = %v, %v", v, err)
			}
		})
	}
	v, err := exe.New().Validate(context.Background(), &configv1.ValidateRequest{HclConfiguration: `
max_hash_size = 104857600
hash_cache_size = 100
ima_log_path = "/sys/kernel/security/ima/binary_runtime_measurements"
tpm = "swtpm://127.0.0.1:2321"
quote_interval = "10s"`})
	if err != nil || !v.Valid {
		t.Errorf("Validate = %v, %v", v, err)
	}
}

// TestFUSERefused: an executable on a FUSE file system is refused, not
// hashed: the FUSE server sees which process reads and can serve the agent
// other bytes than the kernel executes. bindfs is a FUSE file system.
func TestFUSERefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting FUSE needs root here")
	}
	if _, err := exec.LookPath("bindfs"); err != nil {
		prereq.Missing(t, "bindfs (apt-get install bindfs)")
	}
	src := filepath.Dir(sleeper(t, nil))
	mnt := t.TempDir()
	if out, err := exec.Command("bindfs", src, mnt).CombinedOutput(); err != nil {
		t.Fatalf("bindfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("fusermount", "-u", mnt).CombinedOutput(); err != nil {
			t.Errorf("fusermount -u: %v: %s", err, out)
		}
	})
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(mnt, &sfs); err != nil || sfs.Type != 0x65735546 {
		t.Fatalf("statfs %s: type %#x, %v: not FUSE", mnt, sfs.Type, err)
	}
	client := servePlugin(t, exe.New(), "", hclog.NewNullLogger())
	path := filepath.Join(mnt, "sleep")
	pid := start(t, nil, path, "60")
	_, err := attest(client, pid)
	wantStatus(t, err, codes.FailedPrecondition, fmt.Sprintf("pid %d: %q: FUSE: executable is on a file system whose contents another party serves: the bytes the agent reads need not be those the kernel executes", pid, path))

	// The same file through its own (local) path is measured.
	got, err := attest(client, start(t, nil, filepath.Join(src, "sleep"), "60"))
	if want := []string{"sha256:" + sha256File(t, path), "path:" + filepath.Join(src, "sleep")}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("selectors %q, %v; want %q", got, err, want)
	}
}
