package container_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/containertest"
	"github.com/hwattest/hwattest/workloadattestor/container"
)

// sleeper builds a static program that sleeps for an hour, for images.
func sleeper(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nimport \"time\"\n\nfunc main() { time.Sleep(time.Hour) }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "sleeper"), src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return containertest.ReadFile(t, filepath.Join(dir, "sleeper"))
}

// TestContainerdSpoof runs a real container under a private containerd
// (runc) with a Kubernetes cgroup path, and asks the plugin, reading the
// real /proc, about its process and about host processes that put
// themselves in cgroups named after it. Only the container's process gets
// its selectors.
func TestContainerdSpoof(t *testing.T) {
	ctrd := containertest.StartContainerd(t)
	reg := containertest.StartRegistry(t)
	img := containertest.Build(t, containertest.ImageOptions{
		Files:      map[string][]byte{"/sleeper": sleeper(t)},
		Executable: []string{"/sleeper"},
		Entrypoint: []string{"/sleeper"},
	})
	ref := reg.Push(t, img, "sleeper:v1")
	ctrd.Pull(t, "k8s.io", ref)

	id := strings.Repeat("5e", 32)
	pod := "6f3c2a1e-0b7d-4e9a-8c5f-" + id[:12]
	cgroup := "/kubepods/besteffort/pod" + pod + "/" + id
	pid := ctrd.Run(t, containertest.RunOptions{Namespace: "k8s.io", Image: ref, ID: id, Cgroup: cgroup})

	p := container.NewForTest("/proc", func(typ, address string) (container.Runtime, error) {
		return container.NewContainerd(address)
	}, time.Now)
	if _, err := p.Configure(context.Background(), &configv1.ConfigureRequest{
		HclConfiguration: fmt.Sprintf("runtime \"containerd\" {\n  address = %q\n}", ctrd.Socket),
	}); err != nil {
		t.Fatal(err)
	}
	attest := func(pid int) ([]string, error) {
		resp, err := p.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: int32(pid)})
		return resp.GetSelectorValues(), err
	}

	want := []string{"container_id:" + id, "runtime:containerd", "image:" + ref, "image_id:" + img.ConfigDigest,
		"image_digest:" + img.Digest, "pod_uid:" + pod}
	got, err := attest(pid)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("the container's process: %q, %v\nwant %q", got, err, want)
	}

	spoofRoot := "/hwattest-spoof-" + id[:8]
	tests := []struct {
		name, cgroup string
		pidNS        bool // in the container's PID namespace (nsenter -p)
		allowed      bool
	}{
		{name: "named after it, nested under a cgroup of its own", cgroup: spoofRoot + cgroup},
		{name: "named after it in another layout", cgroup: spoofRoot + "/system.slice/docker-" + id + ".scope"},
		{name: "named after it, in its PID namespace", cgroup: spoofRoot + cgroup, pidNS: true},
		{name: "in its cgroup, not in its PID namespace", cgroup: cgroup + "/joined"},
		{name: "in its cgroup and PID namespace (as exec)", cgroup: cgroup + "/joined", pidNS: true, allowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := containertest.InCgroupScript(t, tt.cgroup)
			args := []string{"sh", "-c", script, "sh", "sleep", "600"}
			if tt.pidNS {
				args = append([]string{"nsenter", "--target", fmt.Sprint(pid), "--pid", "--"}, args...)
			}
			cmd := exec.Command(args[0], args[1:]...)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the script has moved itself and exec'd sleep
			// (nsenter's child, with --pid).
			spoofer := cmd.Process.Pid
			t.Cleanup(func() {
				if spoofer != cmd.Process.Pid {
					_ = syscall.Kill(spoofer, syscall.SIGKILL)
				}
				cmd.Process.Kill()
				cmd.Wait()
			})
			deadline := time.Now().Add(10 * time.Second)
			for {
				if tt.pidNS {
					b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
					if f := strings.Fields(string(b)); len(f) > 0 {
						fmt.Sscan(f[0], &spoofer)
					}
				}
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", spoofer))
				if strings.TrimSpace(string(b)) == "sleep" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the spoofing process did not start: %s", out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", spoofer))
			t.Logf("process %d:\n%s", spoofer, cg)
			got, err := attest(spoofer)
			if tt.allowed {
				if err != nil || !slices.Equal(got, want) {
					t.Fatalf("got %q, %v\nwant %q", got, err, want)
				}
				return
			}
			if slices.Contains(got, "container_id:"+id) {
				t.Fatalf("VULNERABLE: a host process got the container's selectors %q", got)
			}
			if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "not in the container "+id) {
				t.Fatalf("err = %v, want PermissionDenied: not in the container", err)
			}
			t.Logf("refused: %v", err)
		})
	}
	// The container's process still is.
	if got, err := attest(pid); err != nil || !slices.Equal(got, want) {
		t.Fatalf("the container's process: %q, %v", got, err)
	}
}
