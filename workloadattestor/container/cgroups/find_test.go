package cgroups_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/hwattest/hwattest/workloadattestor/container/cgroups"
)

// IDs and pod UIDs of the fixtures under testdata/<layout>/{cgroup,mountinfo}.
const (
	dockerID  = "3c8f1a9d4e7b2c6f0a5d8e1b4c7f2a9d6e3b0c5f8a1d4e7b2c9f6a3d0e5b8c1f"
	docker2ID = "9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	k8sID     = "5f3e2d1c0b9a8f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e"
	podmanID  = "b7e9c1d3f5a7092b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6c8e0b"
	crioID    = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	kindNode  = "93529524695bb00d91c1f6dba692ea8d3550c3b94fb2463af7bc9ec82f992d26"
	kindID    = "09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6"
	podUID    = "7d1e2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
	kindPod   = "a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80"
)

var layouts = []struct {
	name string
	want cgroups.Container // zero: not a container
	err  string
}{
	// cgroup v1
	{name: "v1-docker-cgroupfs", want: cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker}},
	{name: "v1-k8s-containerd-cgroupfs", want: cgroups.Container{ID: k8sID, Runtime: cgroups.RuntimeUnknown, PodUID: podUID}},
	{name: "v1-crio-cgroupfs", want: cgroups.Container{ID: crioID, Runtime: cgroups.RuntimeCRIO, PodUID: podUID}},
	{name: "v1-podman-cgroupfs", want: cgroups.Container{ID: podmanID, Runtime: cgroups.RuntimePodman}},
	{name: "v1-host-service"},
	{name: "v1-vm-host-process"}, // memory:/process_api/<32 hex digits>: not a container ID
	{name: "v1-conflict", err: "cgroups: conflicting containers: " + dockerID + " and " + docker2ID},
	// cgroup v2
	{name: "v2-docker-systemd", want: cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker}},
	{name: "v2-docker-cgroupfs", want: cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker}},
	{name: "v2-k8s-containerd-systemd-burstable", want: cgroups.Container{ID: k8sID, Runtime: cgroups.RuntimeContainerd, PodUID: podUID}},
	{name: "v2-k8s-containerd-systemd-guaranteed", want: cgroups.Container{ID: k8sID, Runtime: cgroups.RuntimeContainerd, PodUID: podUID}},
	{name: "v2-k8s-containerd-cgroupfs-besteffort", want: cgroups.Container{ID: k8sID, Runtime: cgroups.RuntimeUnknown, PodUID: podUID}},
	{name: "v2-k8s-containerd-colon-path", want: cgroups.Container{ID: k8sID, Runtime: cgroups.RuntimeContainerd, PodUID: podUID}},
	{name: "v2-k8s-containerd-private-cgroupns", want: cgroups.Container{ID: k8sID, Runtime: cgroups.RuntimeContainerd, PodUID: podUID}},
	{name: "v2-crio-systemd", want: cgroups.Container{ID: crioID, Runtime: cgroups.RuntimeCRIO, PodUID: podUID}},
	{name: "v2-crio-conmon"},
	{name: "v2-podman-rootful", want: cgroups.Container{ID: podmanID, Runtime: cgroups.RuntimePodman}},
	{name: "v2-podman-rootless", want: cgroups.Container{ID: podmanID, Runtime: cgroups.RuntimePodman}},
	{name: "v2-podman-conmon"},
	{name: "v2-host-service"},
	{name: "v2-host-session"},
	{name: "v2-host-init"},
	{name: "v2-host-root-cgroup"},
	{name: "v2-deleted-cgroup", want: cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker}},
	// hybrid: v1 controllers and the v2 unified hierarchy
	{name: "hybrid-docker-cgroupfs", want: cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker}},
	{name: "hybrid-k8s-containerd-systemd", want: cgroups.Container{ID: k8sID, Runtime: cgroups.RuntimeContainerd, PodUID: podUID}},
	{name: "hybrid-host-service"},
	{name: "hybrid-kind-nested", want: cgroups.Container{ID: kindID, Runtime: cgroups.RuntimeUnknown, PodUID: kindPod}},
	// at the root of the reader's cgroup namespace: only the mounts tell
	{name: "nested-docker", want: cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker, FromMounts: true}},
	{name: "nested-docker-own-fs", want: cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker, FromMounts: true}},
	{name: "nested-podman", want: cgroups.Container{ID: podmanID, Runtime: cgroups.RuntimePodman, FromMounts: true}},
	{name: "nested-k8s-containerd", err: "cgroups: pod " + podUID + ": in a container, but neither its cgroups nor its mounts name the container ID"},
	{name: "nested-k8s-containerd-volume", want: cgroups.Container{ID: k8sID, Runtime: cgroups.RuntimeContainerd, PodUID: podUID, FromMounts: true}},
	{name: "nested-crio", err: "cgroups: pod " + podUID + ": in a container, but neither its cgroups nor its mounts name the container ID"},
	{name: "nested-v1-cgroup-mounts", want: cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker, FromMounts: true}},
	{name: "nested-docker-conflict", err: "cgroups: conflicting containers: " + dockerID + " and " + docker2ID},
	{name: "nested-host"},
}

func readFixture(tb testing.TB, layout, file string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", layout, file))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestIdentify(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{"fuzz": true}
	for _, tt := range layouts {
		tested[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := cgroups.Identify(readFixture(t, tt.name, "cgroup"), readFixture(t, tt.name, "mountinfo"))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v\nwant %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.want != cgroups.Container{}) || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, ok, tt.want)
			}
		})
	}
	for _, d := range dirs {
		if !tested[d.Name()] {
			t.Errorf("testdata/%s has no expectation", d.Name())
		}
	}
}

func TestErrorsAreTyped(t *testing.T) {
	_, _, err := cgroups.Identify(readFixture(t, "v1-conflict", "cgroup"), nil)
	if !errors.Is(err, cgroups.ErrConflict) {
		t.Errorf("v1-conflict: %v is not ErrConflict", err)
	}
	_, _, err = cgroups.Identify([]byte("0::/\n"), readFixture(t, "nested-crio", "mountinfo"))
	if !errors.Is(err, cgroups.ErrNoContainerID) {
		t.Errorf("nested-crio: %v is not ErrNoContainerID", err)
	}
}

func TestCgroupLineEdgeCases(t *testing.T) {
	tests := []struct {
		name, cgroup string
		want         cgroups.Container
		err          string
	}{
		{name: "conmon next to the container is not it", cgroup: "0::/machine.slice/libpod-conmon-" + podmanID + ".scope\n"},
		{name: "uppercase ID is not an ID", cgroup: "0::/docker/" + "3C8F1A9D4E7B2C6F0A5D8E1B4C7F2A9D6E3B0C5F8A1D4E7B2C9F6A3D0E5B8C1F\n"},
		{name: "63 hex digits", cgroup: "0::/docker/" + dockerID[1:] + "\n"},
		{name: "docker scope without .scope", cgroup: "0::/system.slice/docker-" + dockerID + "\n"},
		{name: "crio without .scope (cgroupfs)", cgroup: "0::/kubepods/pod" + podUID + "/crio-" + crioID + "\n", want: cgroups.Container{ID: crioID, Runtime: cgroups.RuntimeCRIO, PodUID: podUID}},
		{name: "pod UID with underscores in a cgroupfs path", cgroup: "0::/kubepods/burstable/pod7d1e2a3b_4c5d_4e6f_8a9b_0c1d2e3f4a5b/" + k8sID + "\n", want: cgroups.Container{ID: k8sID, PodUID: podUID}},
		{name: "pod UID uppercase is lowered", cgroup: "0::/kubepods/pod7D1E2A3B-4C5D-4E6F-8A9B-0C1D2E3F4A5B/" + k8sID + "\n", want: cgroups.Container{ID: k8sID, PodUID: podUID}},
		{name: "not a pod slice", cgroup: "0::/kubepods.slice/kubepods-other-pod" + podUID + ".slice/cri-containerd-" + k8sID + ".scope\n", want: cgroups.Container{ID: k8sID, Runtime: cgroups.RuntimeContainerd}},
		{name: "pod without container", cgroup: "0::/kubepods/burstable/pod" + podUID + "\n"},
		{name: "trailing cgroups inside the container", cgroup: "0::/system.slice/docker-" + dockerID + ".scope/init.scope\n", want: cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker}},
		{name: "bare ID in a containerd namespace", cgroup: "0::/k8s.io/" + k8sID + "\n", want: cgroups.Container{ID: k8sID}},
		{name: "nerdctl", cgroup: "0::/system.slice/nerdctl-" + k8sID + ".scope\n", want: cgroups.Container{ID: k8sID, Runtime: cgroups.RuntimeContainerd}},
		{name: "runtime named by another line", cgroup: "1:name=systemd:/system.slice/docker-" + dockerID + ".scope\n2:memory:/foo/" + dockerID + "\n", want: cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker}},
		{name: "pod named by another line", cgroup: "1:name=systemd:/" + k8sID + "\n2:memory:/kubepods/pod" + podUID + "/" + k8sID + "\n", want: cgroups.Container{ID: k8sID, PodUID: podUID}},
		{name: "same container in two pods", cgroup: "1:cpu:/kubepods/pod" + podUID + "/" + k8sID + "\n2:memory:/kubepods/pod" + kindPod + "/" + k8sID + "\n", err: "cgroups: conflicting containers: container " + k8sID + " in pods " + podUID + " and " + kindPod},
		{name: "not absolute", cgroup: "0::docker/" + dockerID + "\n", err: `cgroups: cgroup line 1: path "docker/` + dockerID + `" is not absolute`},
		{name: "two fields", cgroup: "0:/\n", err: "cgroups: cgroup line 1: want hierarchy-ID:controllers:path"},
		{name: "a hierarchy twice", cgroup: "0::/docker/" + dockerID + "\n00::/\n", err: "cgroups: cgroup line 2: hierarchy 0: listed twice"},
		{name: "bad hierarchy ID", cgroup: "\nx::/\n", err: `cgroups: cgroup line 2: hierarchy ID "x" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := cgroups.Identify([]byte(tt.cgroup), nil)
			if tt.err != "" || err != nil {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v\nwant %s", err, tt.err)
				}
				return
			}
			if ok != (tt.want != cgroups.Container{}) || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, ok, tt.want)
			}
		})
	}
}

// writeProc makes proc/<pid>/ with the given files, a stat file, and
// namespace files: ns/pid, ns/mnt and ns/user, the last one the same file
// as proc/self/ns/user (the reader's user namespace) unless foreignUser.
func writeProc(t *testing.T, pid string, files map[string][]byte, foreignUser ...bool) string {
	t.Helper()
	proc := t.TempDir()
	for _, d := range []string{filepath.Join(pid, "ns"), filepath.Join("self", "ns")} {
		if err := os.MkdirAll(filepath.Join(proc, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	all := map[string][]byte{
		"stat":    []byte(pid + " (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n"),
		"ns/pid":  nil,
		"ns/mnt":  nil,
		"ns/user": nil,
	}
	for name, b := range files {
		all[name] = b
	}
	for name, b := range all {
		if err := os.WriteFile(filepath.Join(proc, pid, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	self := filepath.Join(proc, "self", "ns", "user")
	if len(foreignUser) > 0 && foreignUser[0] {
		if err := os.WriteFile(self, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Link(filepath.Join(proc, pid, "ns", "user"), self); err != nil {
		t.Fatal(err)
	}
	return proc
}

func TestFind(t *testing.T) {
	t.Run("mountinfo not read when the cgroup tells", func(t *testing.T) {
		proc := writeProc(t, "42", map[string][]byte{"cgroup": readFixture(t, "v2-docker-systemd", "cgroup")})
		got, ok, err := cgroups.Find(proc, 42)
		if want := (cgroups.Container{ID: dockerID, Runtime: cgroups.RuntimeDocker}); err != nil || !ok || got != want {
			t.Fatalf("got %+v, %v, %v", got, ok, err)
		}
	})
	t.Run("mountinfo read at the cgroup namespace root", func(t *testing.T) {
		proc := writeProc(t, "42", map[string][]byte{"cgroup": []byte("0::/\n"), "mountinfo": readFixture(t, "nested-podman", "mountinfo")})
		got, ok, err := cgroups.Find(proc, 42)
		if want := (cgroups.Container{ID: podmanID, Runtime: cgroups.RuntimePodman, FromMounts: true}); err != nil || !ok || got != want {
			t.Fatalf("got %+v, %v, %v", got, ok, err)
		}
	})
	t.Run("mounts of another user namespace are not read", func(t *testing.T) {
		proc := writeProc(t, "42", map[string][]byte{"cgroup": []byte("0::/\n"), "mountinfo": readFixture(t, "nested-podman", "mountinfo")}, true)
		p, err := cgroups.Read(proc, 42)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := p.Container()
		if err != nil || ok || !p.ForeignUserNS {
			t.Fatalf("got %+v, %v, %v; foreign user namespace %v", got, ok, err, p.ForeignUserNS)
		}
	})
	t.Run("start time", func(t *testing.T) {
		proc := writeProc(t, "42", map[string][]byte{"cgroup": readFixture(t, "v2-docker-systemd", "cgroup")})
		p, err := cgroups.Read(proc, 42)
		if err != nil || p.Start != 777 || p.PID != 42 {
			t.Fatalf("got %+v, %v", p, err)
		}
	})
	t.Run("process gone", func(t *testing.T) {
		_, _, err := cgroups.Find(t.TempDir(), 42)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cgroup file too large", func(t *testing.T) {
		big := make([]byte, cgroups.MaxCgroupSize+1)
		proc := writeProc(t, "42", map[string][]byte{"cgroup": big})
		_, _, err := cgroups.Find(proc, 42)
		want := "cgroups: pid 42: " + filepath.Join(proc, "42", "cgroup") + " is larger than 65536 bytes"
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
	})
	t.Run("this process", func(t *testing.T) {
		// Whatever this test runs in, Find reads the real files.
		if _, _, err := cgroups.Find("/proc", os.Getpid()); err != nil && !errors.Is(err, cgroups.ErrNoContainerID) {
			t.Fatal(err)
		}
	})
}
