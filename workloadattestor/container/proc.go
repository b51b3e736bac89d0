package container

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// maxStatSize bounds /proc/PID/stat: 52 numbers and a command name of at
// most 64 bytes.
const maxStatSize = 4 << 10

// startTime returns when process pid started (in clock ticks since boot,
// field 22 of /proc/PID/stat): with the PID it names one process, which a
// reused PID does not.
func startTime(proc string, pid int) (uint64, error) {
	f, err := os.Open(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var buf [maxStatSize]byte
	n, err := io.ReadFull(f, buf[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, err
	}
	return parseStartTime(buf[:n])
}

// parseStartTime reads the start time from the contents of /proc/PID/stat:
// "pid (comm) state ppid ...", where comm may hold spaces and parentheses,
// so fields are counted from the last ')'.
func parseStartTime(b []byte) (uint64, error) {
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
