package cgroups_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/workloadattestor/container/cgroups"
)

func TestParseCgroup(t *testing.T) {
	got, err := cgroups.ParseCgroup([]byte("12:cpu,cpuacct:/docker/x\n1:name=systemd:/init.scope\n\n0::/system.slice/a.scope (deleted)"))
	if err != nil {
		t.Fatal(err)
	}
	want := []cgroups.CgroupEntry{
		{HierarchyID: 12, Controllers: []string{"cpu", "cpuacct"}, Path: "/docker/x"},
		{HierarchyID: 1, Controllers: []string{"name=systemd"}, Path: "/init.scope"},
		{HierarchyID: 0, Path: "/system.slice/a.scope"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	_, err = cgroups.ParseCgroup(make([]byte, cgroups.MaxCgroupSize+1))
	if want := "cgroups: cgroup file larger than 65536 bytes"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestParseMountinfo(t *testing.T) {
	text := `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
1187 1179 8:1 /var/lib/docker/containers/a\040b/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/sda1 rw
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
41 30 0:38 /odd\\name\012x /mnt/tab\011here\999 rw shared:2 master:3 propagate_from:4 - tmpfs my\040source rw
`
	got, err := cgroups.ParseMountinfo([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []cgroups.Mount{
		{ID: 36, ParentID: 35, Root: "/mnt1", MountPoint: "/mnt2", FSType: "ext3", Source: "/dev/root"},
		{ID: 1187, ParentID: 1179, Root: "/var/lib/docker/containers/a b/resolv.conf", MountPoint: "/etc/resolv.conf", FSType: "ext4", Source: "/dev/sda1"},
		{ID: 40, ParentID: 30, Root: "/", MountPoint: "/sys/fs/cgroup/unified", FSType: "cgroup2", Source: "cgroup2"},
		{ID: 41, ParentID: 30, Root: "/odd\\\\name\nx", MountPoint: "/mnt/tab\there\\999", FSType: "tmpfs", Source: "my source"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}

	for _, tt := range []struct{ line, err string }{
		{"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw", `cgroups: mountinfo line 1: want 10 or more fields with a "-" separator`},
		{"36 35 98:0 /mnt1 /mnt2 rw - ext3", `cgroups: mountinfo line 1: want 10 or more fields with a "-" separator`},
		{"x 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw", `cgroups: mountinfo line 1: mount IDs "x" "35" are not numbers`},
		{"36 35 98:0 mnt1 /mnt2 rw - ext3 /dev/root rw", `cgroups: mountinfo line 1: root "mnt1" is not absolute`},
	} {
		if _, err := cgroups.ParseMountinfo([]byte(tt.line)); err == nil || err.Error() != tt.err {
			t.Errorf("%q: err = %v\nwant %s", tt.line, err, tt.err)
		}
	}
	_, err = cgroups.ParseMountinfo([]byte(strings.Repeat("x", cgroups.MaxMountinfoSize+1)))
	if want := "cgroups: mountinfo larger than 8388608 bytes"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
