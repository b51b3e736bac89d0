//go:build linux

package exe

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// openFlags open an executable for hashing. O_NONBLOCK keeps a FIFO put in
// the executable's place from blocking the open; it changes nothing for a
// regular file.
const openFlags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK

// measure finds the file process pid runs, checks that it is the file the
// kernel runs, and hashes it (or takes its hash from the cache).
//
// Every lookup goes through one handle on /proc/PID: if the process exits
// and its PID is reused meanwhile, the lookups fail instead of describing
// the new process.
func measure(pid int32, maxSize int64, cache *hashCache, h hasher) (*measurement, error) {
	procDir := "/proc/" + strconv.Itoa(int(pid))
	dir, err := unix.Open(procDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("pid %d: %w", pid, errNoProcess)
	}
	if err != nil {
		return nil, fmt.Errorf("pid %d: open %s: %w", pid, procDir, err)
	}
	defer unix.Close(dir)

	target, err := readlinkat(dir, "exe")
	if err != nil {
		return nil, procError(dir, pid, "read /proc/PID/exe", err)
	}
	if p, ok := strings.CutSuffix(target, deletedSuffix); ok {
		return nil, fmt.Errorf("pid %d: %q: %w", pid, p, errDeleted)
	}
	// The kernel names the executable relative to the agent's root. For a
	// process in another mount namespace (a container) that is its path in
	// that namespace; for a chroot in the agent's namespace it starts with
	// the chroot's path, which the process does not see.
	path := target
	if root, err := readlinkat(dir, "root"); err == nil && root != "/" && strings.HasPrefix(target, root+"/") {
		path = target[len(root):]
	}

	fd, viaExe, err := openExe(dir, pid, path)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()

	var st, exe unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("pid %d: %q: stat: %w", pid, path, err)
	}
	if err := unix.Fstatat(dir, "exe", &exe, 0); err != nil {
		return nil, procError(dir, pid, "stat /proc/PID/exe", err)
	}
	switch {
	case st.Dev != exe.Dev || st.Ino != exe.Ino:
		return nil, fmt.Errorf("pid %d: %q: %w", pid, path, errReplaced)
	case st.Nlink == 0:
		return nil, fmt.Errorf("pid %d: %q: %w", pid, path, errDeleted)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		// The kernel only executes regular files.
		return nil, fmt.Errorf("pid %d: %q: not a regular file", pid, path)
	case st.Size > maxSize:
		return nil, fmt.Errorf("pid %d: %q: %d bytes: %w", pid, path, st.Size, errTooLarge)
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return nil, fmt.Errorf("pid %d: %q: statfs: %w", pid, path, err)
	}
	if name, ok := unverifiableFS[uint32(sfs.Type)]; ok {
		return nil, fmt.Errorf("pid %d: %q: %s: %w", pid, path, name, errUnverifiable)
	}

	key := keyOf(&st)
	sum, hit, err := cache.get(key, func() (digest, error) {
		sum, err := h.Hash(f, maxSize)
		if err != nil {
			return digest{}, err
		}
		// Written to, or unlinked, while it was read: the hash may mix
		// two versions. Nothing is cached.
		var after unix.Stat_t
		if err := unix.Fstat(fd, &after); err != nil {
			return digest{}, fmt.Errorf("stat: %w", err)
		}
		if keyOf(&after) != key || after.Nlink == 0 {
			return digest{}, errChanged
		}
		return sum, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pid %d: %q: %w", pid, path, err)
	}
	if !hit {
		// The process may have executed another file while this one was
		// read: the selectors must describe what it runs now.
		if err := unix.Fstatat(dir, "exe", &exe, 0); err != nil {
			return nil, procError(dir, pid, "stat /proc/PID/exe", err)
		}
		if st.Dev != exe.Dev || st.Ino != exe.Ino {
			return nil, fmt.Errorf("pid %d: %q: %w", pid, path, errChanged)
		}
	}
	return &measurement{path: path, kernelPath: target, sum: sum, cached: hit, viaExe: viaExe}, nil
}

// unverifiableFS are the file systems (statfs f_type) on which the bytes a
// read returns need not be the bytes the kernel executes, so a hash of the
// file says nothing about the process:
//
//   - FUSE (virtiofs too): a process serves every read, and it learns which
//     process asked (the request carries its PID), so it can serve the
//     agent an approved binary and the kernel another. An unprivileged user
//     can mount one (fusermount, or in a user namespace).
//   - network file systems: the server serves the contents and the
//     metadata the hash cache keys on (size, mtime, ctime), and a writer on
//     another client is not stopped from changing a running executable.
//
// An executable on one of them is refused (FailedPrecondition) rather than
// described by a hash that may not be of what runs.
var unverifiableFS = map[uint32]string{
	unix.FUSE_SUPER_MAGIC: "FUSE",
	unix.NFS_SUPER_MAGIC:  "NFS",
	unix.SMB_SUPER_MAGIC:  "SMB",
	unix.SMB2_SUPER_MAGIC: "SMB2",
	unix.CIFS_SUPER_MAGIC: "CIFS",
	unix.CEPH_SUPER_MAGIC: "CephFS",
	unix.V9FS_MAGIC:       "9P",
	unix.AFS_SUPER_MAGIC:  "AFS",
	unix.AFS_FS_MAGIC:     "AFS",
	unix.CODA_SUPER_MAGIC: "Coda",
	unix.NCP_SUPER_MAGIC:  "NCP",
}

// openExe opens path inside the process's root. RESOLVE_IN_ROOT resolves
// every component, symlinks included, as the process would, so an absolute
// symlink in a container does not lead into the agent's file system. When
// the path cannot be resolved there (a chroot entered after exec, a mount
// that is not visible from the root) it falls back to /proc/PID/exe, which
// the kernel resolves to the running file itself; measure has already
// refused a deleted one.
func openExe(dir int, pid int32, path string) (fd int, viaExe bool, err error) {
	root, err := unix.Openat(dir, "root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, false, procError(dir, pid, "open /proc/PID/root", err)
	}
	defer unix.Close(root)
	fd, err = unix.Openat2(root, path, &unix.OpenHow{
		Flags:   openFlags,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		// Linux before 5.6: an absolute symlink on the way would resolve
		// in the agent's root instead; the inode check catches that.
		fd, err = unix.Openat(root, strings.TrimLeft(path, "/"), openFlags, 0)
	}
	switch {
	case err == nil:
		return fd, false, nil
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		fd, err = unix.Openat(dir, "exe", openFlags, 0)
		if err != nil {
			return -1, false, procError(dir, pid, "open /proc/PID/exe", err)
		}
		return fd, true, nil
	default:
		return -1, false, fmt.Errorf("pid %d: open %q in the process root: %w", pid, path, err)
	}
}

// procError explains a failed lookup under /proc/PID: the process exited,
// it has no executable, or the agent may not look.
func procError(dir int, pid int32, what string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		// Entries of a process that exited vanish; a zombie or a kernel
		// thread keeps its stat but has no exe.
		if unix.Faccessat(dir, "stat", unix.F_OK, 0) != nil {
			return fmt.Errorf("pid %d: %w", pid, errNoProcess)
		}
		return fmt.Errorf("pid %d: %w", pid, errNoExecutable)
	}
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("pid %d: %s: %w (the agent needs root or CAP_SYS_PTRACE to read another user's process)", pid, what, err)
	}
	return fmt.Errorf("pid %d: %s: %w", pid, what, err)
}

// readlinkat reads a symlink relative to dir, however long its target.
func readlinkat(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
		if size >= 64<<10 {
			return "", fmt.Errorf("readlink %s: target longer than %d bytes", name, size)
		}
	}
}

// keyOf is the cache key of a stat result.
func keyOf(st *unix.Stat_t) fileKey {
	return fileKey{
		dev:   uint64(st.Dev),
		ino:   st.Ino,
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}
}
