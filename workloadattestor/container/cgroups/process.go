package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxStatSize bounds /proc/PID/stat: 52 numbers and a command name of at
// most 64 bytes.
const maxStatSize = 4 << 10

// NS names a namespace: the device and inode of its nsfs file, which are
// the same for every process in it and differ between namespaces.
type NS struct {
	Dev, Ino uint64
}

// Process is what /proc showed about one process, read through one handle
// on /proc/PID: when the process exits and its PID is reused meanwhile, the
// reads fail rather than mix two processes.
type Process struct {
	// PID is the process ID in the pid namespace of the procfs read.
	PID int
	// Start is when the process started, in clock ticks since boot (field
	// 22 of /proc/PID/stat): with PID it names one process.
	Start uint64
	// PIDNS and MntNS are the process's PID and mount namespaces.
	PIDNS, MntNS NS
	// ForeignUserNS is set when every cgroup line is "/" and the process
	// is in another user namespace than the reader: its mounts were not
	// read, because anyone may make a user namespace and mount there
	// whatever names it likes (unshare -Urm).
	ForeignUserNS bool

	entries   []CgroupEntry
	mountinfo []byte // read only when every cgroup line is "/"
}

// ErrNotInContainer is returned by Confirm when the process is not in the
// container its cgroups or mounts name.
var ErrNotInContainer = errors.New("not in the container")

// Read reads process pid under proc (the procfs mount, normally "/proc"):
// its start time, cgroups, PID and mount namespaces and, only when every
// cgroup line is "/" and the process shares the reader's user namespace,
// its mount table. The reader's user namespace is proc's "self". A process
// that does not exist or exits meanwhile is an error wrapping
// fs.ErrNotExist.
func Read(proc string, pid int) (*Process, error) {
	p, err := read(proc, pid)
	if err != nil {
		return nil, fmt.Errorf("cgroups: pid %d: %w", pid, err)
	}
	return p, nil
}

func read(proc string, pid int) (*Process, error) {
	dirPath := filepath.Join(proc, strconv.Itoa(pid))
	dir, err := ignoringEINTR(func() (int, error) {
		return unix.Open(dirPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, pathError("open", dirPath, err)
	}
	defer unix.Close(dir)
	p := &Process{PID: pid}
	if p.Start, err = startTimeAt(dir, dirPath); err != nil {
		return nil, err
	}
	cgroup, err := readAt(dir, dirPath, "cgroup", MaxCgroupSize)
	if err != nil {
		return nil, err
	}
	if p.entries, err = parseCgroup(cgroup); err != nil {
		return nil, err
	}
	if p.PIDNS, err = nsAt(dir, dirPath, "ns/pid"); err != nil {
		return nil, err
	}
	if p.MntNS, err = nsAt(dir, dirPath, "ns/mnt"); err != nil {
		return nil, err
	}
	if !informative(p.entries) {
		user, err := nsAt(dir, dirPath, "ns/user")
		if err != nil {
			return nil, err
		}
		self, err := nsOf(filepath.Join(proc, "self", "ns", "user"))
		if err != nil {
			return nil, err
		}
		if user != self {
			p.ForeignUserNS = true
		} else if p.mountinfo, err = readAt(dir, dirPath, "mountinfo", MaxMountinfoSize); err != nil {
			return nil, err
		}
	}
	// Through the handle every read describes the process it was opened
	// on; the start time, read again, says it is still that process.
	again, err := startTimeAt(dir, dirPath)
	if err != nil {
		return nil, err
	}
	if again != p.Start {
		return nil, fmt.Errorf("start time changed from %d to %d while it was read: %w", p.Start, again, fs.ErrNotExist)
	}
	return p, nil
}

// Container returns the container the process's cgroups or, when they
// say nothing, its mounts name; see Identify. It is only what the process
// shows: Confirm checks it against the container's own process.
func (p *Process) Container() (Container, bool, error) {
	c, ok, err := identifyEntries(p.entries, func() ([]byte, error) { return p.mountinfo, nil })
	if err != nil {
		return Container{}, false, fmt.Errorf("cgroups: pid %d: %w", p.PID, err)
	}
	return c, ok, nil
}

// Confirm checks that process w runs in container c (which w's cgroups or
// mounts name), given init, the container's own process as its runtime
// reports it (the PID the runtime started). A name in a cgroup path or a
// mount root proves nothing by itself: a workload that may write its
// cgroup tree (a privileged or Docker-in-Docker container, a systemd user
// session's delegated subtree) can make a cgroup named after any container,
// and an unprivileged user can mount anything in a user namespace of its
// own. What it cannot do is enter another container's cgroup or namespaces.
// So w must
//
//   - be in init's PID namespace (a process in a PID namespace of its own
//     inside the container, such as a nested container, is refused), and
//   - when c was named by a cgroup path: be in the same container cgroup as
//     init in every hierarchy where either path names c (the path up to
//     and including the segment naming c must be equal; either may go on
//     below it), and in at least one;
//   - when c was named by mounts: be in init's mount namespace.
//
// The error wraps ErrNotInContainer and says which check failed.
func Confirm(w *Process, c Container, init *Process) error {
	if err := confirm(w, c, init); err != nil {
		return fmt.Errorf("cgroups: pid %d: %w", w.PID, err)
	}
	return nil
}

func confirm(w *Process, c Container, init *Process) error {
	if w.PIDNS != init.PIDNS {
		return fmt.Errorf("%w %s: in another PID namespace than its process %d", ErrNotInContainer, c.ID, init.PID)
	}
	if c.FromMounts {
		if w.MntNS != init.MntNS {
			return fmt.Errorf("%w %s: its mounts name it, but it is in another mount namespace than its process %d", ErrNotInContainer, c.ID, init.PID)
		}
		return nil
	}
	matched := false
	for _, e := range w.entries {
		wp, wok := containerPrefix(e.Path, c.ID)
		ie, found := sameHierarchy(init.entries, e)
		var ip string
		var iok bool
		if found {
			ip, iok = containerPrefix(ie.Path, c.ID)
		}
		switch {
		case !wok && !iok:
			continue
		case wok && !iok:
			return fmt.Errorf("%w %s: cgroup %s names it, but its process %d is not there (hierarchy %d)", ErrNotInContainer, c.ID, wp, init.PID, e.HierarchyID)
		case !wok && iok:
			return fmt.Errorf("%w %s: its process %d is in cgroup %s, this process in %s (hierarchy %d)", ErrNotInContainer, c.ID, init.PID, ip, e.Path, e.HierarchyID)
		case wp != ip:
			return fmt.Errorf("%w %s: cgroup %s names it, but its process %d is in cgroup %s (hierarchy %d)", ErrNotInContainer, c.ID, wp, init.PID, ip, e.HierarchyID)
		}
		matched = true
	}
	// A hierarchy of init's that w does not have (they are the same
	// processes' view of the same kernel, so this is only a malformed
	// snapshot) must not name c either.
	for _, ie := range init.entries {
		if _, found := sameHierarchy(w.entries, ie); !found {
			if _, ok := containerPrefix(ie.Path, c.ID); ok {
				return fmt.Errorf("%w %s: its process %d is in cgroup %s, a hierarchy this process is not in", ErrNotInContainer, c.ID, init.PID, ie.Path)
			}
		}
	}
	if !matched {
		return fmt.Errorf("%w %s: no cgroup of this process names it", ErrNotInContainer, c.ID)
	}
	return nil
}

// sameHierarchy returns the entry of es for e's hierarchy.
func sameHierarchy(es []CgroupEntry, e CgroupEntry) (CgroupEntry, bool) {
	for _, x := range es {
		if x.HierarchyID == e.HierarchyID && slicesEqual(x.Controllers, e.Controllers) {
			return x, true
		}
	}
	return CgroupEntry{}, false
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ParseStartTime reads the start time from the contents of /proc/PID/stat:
// "pid (comm) state ppid ...", where comm may hold spaces and parentheses,
// so fields are counted from the last ')'.
func ParseStartTime(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	// After ") " field 3 (state) comes first; start time is field 22.
	fields := bytes.Fields(b[i+1:])
	const startField = 22 - 3
	if len(fields) <= startField {
		return 0, fmt.Errorf("stat: %d fields after the command name, want more than %d", len(fields), startField)
	}
	v, err := strconv.ParseUint(string(fields[startField]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat: start time: %w", err)
	}
	return v, nil
}

// startTimeAt reads the start time from stat under dir.
func startTimeAt(dir int, dirPath string) (uint64, error) {
	b, err := readAt(dir, dirPath, "stat", maxStatSize)
	if err != nil {
		return 0, err
	}
	return ParseStartTime(b)
}

// readAt reads file name under dir, at most limit bytes (an error beyond).
func readAt(dir int, dirPath, name string, limit int) ([]byte, error) {
	path := dirPath + "/" + name
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	})
	if err != nil {
		return nil, pathError("open", path, err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, min(limit+1, 4<<10))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := ignoringEINTR(func() (int, error) { return unix.Read(fd, buf[len(buf):cap(buf)]) })
		if err != nil {
			return nil, pathError("read", path, err)
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
		}
	}
}

// nsAt returns the namespace of link name (ns/pid, ...) under dir.
func nsAt(dir int, dirPath, name string) (NS, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, 0); err != nil {
		return NS{}, pathError("stat", dirPath+"/"+name, err)
	}
	return NS{Dev: uint64(st.Dev), Ino: st.Ino}, nil
}

// nsOf returns the namespace of the link at path.
func nsOf(path string) (NS, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return NS{}, pathError("stat", path, err)
	}
	return NS{Dev: uint64(st.Dev), Ino: st.Ino}, nil
}

// pathError names the path of a failed call. ESRCH (the process exited
// while its directory was open) becomes ENOENT, so that both match
// fs.ErrNotExist.
func pathError(op, path string, err error) error {
	if errors.Is(err, unix.ESRCH) {
		err = unix.ENOENT
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}

func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}
