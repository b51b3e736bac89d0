package container

import (
	"io/fs"
	"strconv"
	"syscall"

	"github.com/hwattest/hwattest/workloadattestor/container/cgroups"
)

// maxStatSize bounds /proc/PID/stat: 52 numbers and a command name of at
// most 64 bytes.
const maxStatSize = 4 << 10

// startTime returns when process pid started (in clock ticks since boot,
// field 22 of /proc/PID/stat): with the PID it names one process, which a
// reused PID does not.
//
// It reads with plain system calls: this is on the cached Attest path, and
// os.Open's file set-up (fstat, fcntl, poller registration) costs as much
// again as the read.
func startTime(proc string, pid int) (uint64, error) {
	path := proc + "/" + strconv.Itoa(pid) + "/stat"
	fd, err := ignoringEINTR(func() (int, error) { return syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0) })
	if err != nil {
		return 0, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var buf [maxStatSize]byte
	n := 0
	for n < len(buf) {
		m, err := ignoringEINTR(func() (int, error) { return syscall.Read(fd, buf[n:]) })
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		n += m
		// procfs hands out the whole line in one read: stop at its
		// end rather than pay for a read that returns nothing.
		if m == 0 || buf[n-1] == '\n' {
			break
		}
	}
	return parseStartTime(buf[:n])
}

func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// parseStartTime reads the start time from the contents of /proc/PID/stat.
var parseStartTime = cgroups.ParseStartTime
