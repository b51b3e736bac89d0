package cgroups_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hwattest/hwattest/workloadattestor/container/cgroups"
)

// addFixtures seeds f with one file of every layout under testdata.
func addFixtures(f *testing.F, file string) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("testdata", d.Name(), file))
		if err == nil {
			f.Add(b)
		}
	}
}

var (
	reID  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	reUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// checkResult holds for every answer Identify gives.
func checkResult(t *testing.T, c cgroups.Container, ok bool) {
	t.Helper()
	if !ok {
		if c != (cgroups.Container{}) {
			t.Fatalf("not a container, yet %+v", c)
		}
		return
	}
	if !reID.MatchString(c.ID) {
		t.Fatalf("container ID %q", c.ID)
	}
	if c.PodUID != "" && !reUID.MatchString(c.PodUID) {
		t.Fatalf("pod UID %q", c.PodUID)
	}
	switch c.Runtime {
	case cgroups.RuntimeUnknown, cgroups.RuntimeContainerd, cgroups.RuntimeCRIO, cgroups.RuntimeDocker, cgroups.RuntimePodman:
	default:
		t.Fatalf("runtime %q", c.Runtime)
	}
}

func FuzzParseCgroup(f *testing.F) {
	addFixtures(f, "cgroup")
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := cgroups.ParseCgroup(b)
		c, ok, ierr := cgroups.Identify(b, nil)
		if err != nil {
			if ierr == nil {
				t.Fatalf("ParseCgroup failed (%v), Identify did not", err)
			}
			return
		}
		for _, e := range entries {
			if e.HierarchyID < 0 || len(e.Path) == 0 || e.Path[0] != '/' {
				t.Fatalf("entry %+v", e)
			}
		}
		if ierr != nil {
			return
		}
		checkResult(t, c, ok)
		if c2, ok2, _ := cgroups.Identify(b, nil); c2 != c || ok2 != ok {
			t.Fatalf("not deterministic: %+v %v, then %+v %v", c, ok, c2, ok2)
		}
		if !ok || c.FromMounts {
			return
		}
		// A process is in the container its cgroups name when it is that
		// container's own process; and not in it when that process is
		// one level above (a cgroup named after it below its own).
		p, err := cgroups.NewProcess(1, b, nil, cgroups.NS{Ino: 1}, cgroups.NS{Ino: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := cgroups.Confirm(p, c, p); err != nil {
			t.Fatalf("not in its own container: %v", err)
		}
		nested := bytes.ReplaceAll(b, []byte(c.ID), []byte(c.ID+"/docker/"+c.ID))
		if q, err := cgroups.NewProcess(2, nested, nil, cgroups.NS{Ino: 1}, cgroups.NS{Ino: 2}); err == nil {
			if c2, ok2, err := cgroups.Identify(nested, nil); err == nil && ok2 && c2.ID == c.ID {
				if err := cgroups.Confirm(q, c2, p); err == nil {
					t.Fatalf("a cgroup named after %s below it is confirmed", c.ID)
				}
			}
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	addFixtures(f, "mountinfo")
	f.Fuzz(func(t *testing.T, b []byte) {
		mounts, err := cgroups.ParseMountinfo(b)
		c, ok, ierr := cgroups.Identify([]byte("0::/\n"), b)
		if err != nil {
			if ierr == nil {
				t.Fatalf("ParseMountinfo failed (%v), Identify did not", err)
			}
			return
		}
		for _, m := range mounts {
			if m.ID < 0 || m.ParentID < 0 || len(m.Root) == 0 || m.Root[0] != '/' {
				t.Fatalf("mount %+v", m)
			}
		}
		if ierr != nil {
			return
		}
		checkResult(t, c, ok)
	})
}
