package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits on what is read from /proc.
const (
	// MaxCgroupSize bounds /proc/PID/cgroup: a line per hierarchy (about
	// a dozen on cgroup v1), each path at most a few hundred bytes.
	MaxCgroupSize = 64 << 10
	// MaxMountinfoSize bounds /proc/PID/mountinfo. A container sees a few
	// dozen mounts; a host process on a busy Kubernetes node sees every
	// pod's volumes, some thousands of lines of about 200 bytes.
	MaxMountinfoSize = 8 << 20
)

// CgroupEntry is one line of /proc/PID/cgroup.
type CgroupEntry struct {
	// HierarchyID is 0 for the cgroup v2 unified hierarchy.
	HierarchyID int
	// Controllers are the v1 controllers bound to the hierarchy, or a
	// named hierarchy ("name=systemd"); empty for cgroup v2.
	Controllers []string
	// Path is the cgroup's path relative to the reader's cgroup namespace
	// root (it may start with "/.." when the cgroup is outside it), with
	// the kernel's " (deleted)" suffix of a removed cgroup dropped.
	Path string
}

// deletedSuffix is what cgroup v2 appends to the path of a removed cgroup.
const deletedSuffix = " (deleted)"

// ParseCgroup parses the contents of /proc/PID/cgroup:
// "hierarchy-ID:controller-list:cgroup-path" per line.
func ParseCgroup(b []byte) ([]CgroupEntry, error) {
	entries, err := parseCgroup(b)
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	return entries, nil
}

func parseCgroup(b []byte) ([]CgroupEntry, error) {
	if len(b) > MaxCgroupSize {
		return nil, fmt.Errorf("cgroup file larger than %d bytes", MaxCgroupSize)
	}
	var out []CgroupEntry
	seen := map[string]bool{}
	for n, line := range lines(b) {
		id, rest, ok1 := strings.Cut(line, ":")
		ctrl, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("cgroup line %d: want hierarchy-ID:controllers:path", n)
		}
		h, err := strconv.Atoi(id)
		if err != nil || h < 0 {
			return nil, fmt.Errorf("cgroup line %d: hierarchy ID %q is not a number", n, id)
		}
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("cgroup line %d: path %q is not absolute", n, path)
		}
		// The kernel lists each hierarchy once; a file that does not is
		// not one, and Confirm compares processes hierarchy by hierarchy.
		key := strconv.Itoa(h) + ":" + ctrl
		if seen[key] {
			return nil, fmt.Errorf("cgroup line %d: hierarchy %s listed twice", n, key)
		}
		seen[key] = true
		e := CgroupEntry{HierarchyID: h, Path: strings.TrimSuffix(path, deletedSuffix)}
		if ctrl != "" {
			e.Controllers = strings.Split(ctrl, ",")
		}
		out = append(out, e)
	}
	return out, nil
}

// Mount is one line of /proc/PID/mountinfo, the fields this package uses.
type Mount struct {
	// ID and ParentID identify the mount and its parent.
	ID, ParentID int
	// Root is the directory of the file system mounted here: "/" for a
	// whole file system, the source path of a bind mount relative to its
	// file system, the cgroup path of a cgroup mount.
	Root string
	// MountPoint is where it is mounted, relative to the process's root.
	MountPoint string
	// FSType is the file system type ("cgroup", "cgroup2", "ext4", ...).
	FSType string
	// Source is the mount source ("/dev/sda1", "overlay", "tmpfs").
	Source string
}

// ParseMountinfo parses the contents of /proc/PID/mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//
// with any number of optional fields (7) ended by "-". Octal escapes
// (\040 for a space) in the root, mount point and source are decoded.
func ParseMountinfo(b []byte) ([]Mount, error) {
	mounts, err := parseMountinfo(b)
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	return mounts, nil
}

func parseMountinfo(b []byte) ([]Mount, error) {
	if len(b) > MaxMountinfoSize {
		return nil, fmt.Errorf("mountinfo larger than %d bytes", MaxMountinfoSize)
	}
	var out []Mount
	for n, line := range lines(b) {
		m, err := parseMount(line)
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func parseMount(line string) (Mount, error) {
	f := strings.Split(line, " ")
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || len(f) < sep+3 {
		return Mount{}, errors.New("want 10 or more fields with a \"-\" separator")
	}
	id, err1 := strconv.Atoi(f[0])
	parent, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || id < 0 || parent < 0 {
		return Mount{}, fmt.Errorf("mount IDs %q %q are not numbers", f[0], f[1])
	}
	if !strings.HasPrefix(f[3], "/") {
		return Mount{}, fmt.Errorf("root %q is not absolute", f[3])
	}
	return Mount{
		ID:         id,
		ParentID:   parent,
		Root:       unescape(f[3]),
		MountPoint: unescape(f[4]),
		FSType:     f[sep+1],
		Source:     unescape(f[sep+2]),
	}, nil
}

// unescape decodes the kernel's octal escapes (\NNN) in a mountinfo field;
// anything else is kept as it is.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		// \NNN with a first digit of at most 3 fits a byte.
		if s[i] == '\\' && i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// lines yields the non-empty lines of b, numbered from 1.
func lines(b []byte) func(yield func(int, string) bool) {
	return func(yield func(int, string) bool) {
		n := 0
		for len(b) > 0 {
			n++
			line := b
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				line, b = b[:i], b[i+1:]
			} else {
				b = nil
			}
			if len(line) == 0 {
				continue
			}
			if !yield(n, string(line)) {
				return
			}
		}
	}
}
