package exe

import (
	"crypto/sha256"
	"errors"
	"io"
	"sync"
)

// Why an executable was not measured. Attest maps them to gRPC codes.
var (
	errNoProcess    = errors.New("no such process")
	errNoExecutable = errors.New("process has no executable (kernel thread or zombie)")
	errDeleted      = errors.New("executable was deleted or replaced since the process started")
	errReplaced     = errors.New("path names another file than the one the process runs")
	errChanged      = errors.New("executable changed while it was measured")
	errTooLarge     = errors.New("executable is larger than max_hash_size")
	errUnsupported  = errors.New("measuring executables is only supported on Linux")
	errUnverifiable = errors.New("executable is on a file system whose contents another party serves: the bytes the agent reads need not be those the kernel executes")
)

// deletedSuffix is what the kernel appends to the target of /proc/PID/exe
// once the file is unlinked.
const deletedSuffix = " (deleted)"

// measurement is what Attest reports about a process's executable.
type measurement struct {
	// path is the executable's path as the process sees it.
	path string
	// kernelPath is the executable's path as the kernel names it to the
	// agent (the target of /proc/PID/exe): in the process's mount
	// namespace, a chroot's prefix included. It is what IMA logs.
	kernelPath string
	// sum is the SHA-256 of the file's contents.
	sum digest
	// cached reports that the hash came from the cache (or from a
	// concurrent request hashing the same file).
	cached bool
	// viaExe reports that the path was not reachable through the process's
	// root and the file was opened through /proc/PID/exe itself.
	viaExe bool
}

// hasher computes the SHA-256 of an open executable, reading at most limit
// bytes (errTooLarge beyond). It is the plugin's one dependency on file
// contents, behind an interface so that tests can count how often a file is
// read.
type hasher interface {
	Hash(r io.Reader, limit int64) (digest, error)
}

// sha256Hasher is the hasher the plugin uses.
type sha256Hasher struct{}

// hashBufferSize is the read size: large enough that syscalls do not
// dominate.
const hashBufferSize = 256 << 10

var hashBuffers = sync.Pool{New: func() any { b := make([]byte, hashBufferSize); return &b }}

func (sha256Hasher) Hash(r io.Reader, limit int64) (digest, error) {
	buf := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(buf)
	h := sha256.New()
	n, err := io.CopyBuffer(h, io.LimitReader(r, limit+1), *buf)
	if err != nil {
		return digest{}, err
	}
	if n > limit {
		return digest{}, errTooLarge
	}
	var d digest
	h.Sum(d[:0])
	return d, nil
}
