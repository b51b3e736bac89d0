package cgroups_test

import (
	"os"
	"testing"

	"github.com/hwattest/hwattest/workloadattestor/container/cgroups"
)

// BenchmarkParse parses a Kubernetes container's full cgroup (v1, 13
// lines) and mountinfo (36 lines).
func BenchmarkParse(b *testing.B) {
	cg := readFixture(b, "hybrid-k8s-containerd-systemd", "cgroup")
	mi := readFixture(b, "hybrid-k8s-containerd-systemd", "mountinfo")
	b.SetBytes(int64(len(cg) + len(mi)))
	for b.Loop() {
		if _, err := cgroups.ParseCgroup(cg); err != nil {
			b.Fatal(err)
		}
		if _, err := cgroups.ParseMountinfo(mi); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdentify is the whole answer from the files' contents: from the
// cgroup file alone (the usual case), and from the mount table when the
// cgroup says nothing.
func BenchmarkIdentify(b *testing.B) {
	for _, layout := range []string{"hybrid-k8s-containerd-systemd", "v2-k8s-containerd-systemd-burstable", "nested-k8s-containerd-volume"} {
		cg, mi := readFixture(b, layout, "cgroup"), readFixture(b, layout, "mountinfo")
		b.Run(layout, func(b *testing.B) {
			for b.Loop() {
				if _, ok, err := cgroups.Identify(cg, mi); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// BenchmarkFind reads this process's files from /proc.
func BenchmarkFind(b *testing.B) {
	pid := os.Getpid()
	for b.Loop() {
		if _, _, err := cgroups.Find("/proc", pid); err != nil {
			b.Fatal(err)
		}
	}
}
