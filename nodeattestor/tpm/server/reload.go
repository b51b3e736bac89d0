package server

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/hwattest/hwattest/internal/readfile"
)

// Sources of reloaded configuration, as logs and the reload metrics' source
// label name them (their configuration keys).
const (
	sourceEKHashes = "ek_hash_paths"
	sourceEKCAs    = "ek_ca_paths"
	sourcePolicies = "policy_paths"
)

// file is one file as read for a reload.
type file struct {
	path string
	b    []byte
}

// reloadable is a value built from configuration files and rebuilt when
// their contents change: an operator edits the EK hash allowlist, an EK CA
// directory or a policy file, and the next attestation uses the new
// version, without a restart or a signal (SPIRE's SIGUSR1 reconfigures a
// plugin only when its plugin_data_file changed).
//
// It compares contents, not sizes and modification times: an edit that
// keeps the size within the file system's timestamp granularity (or
// restores the time) still counts. The value is built from the bytes that
// were hashed. A new version that fails to build is refused: the previous
// value stays in force, and the refusal is reported once per broken
// version (not at every attestation).
type reloadable[T any] struct {
	source string
	// list returns the files whose contents build the value.
	list func() ([]string, error)
	// extra returns further files the value read itself (IMA allowlists a
	// policy names), given the current value: they are hashed, so that
	// editing them rebuilds the value, but not passed to build.
	extra func(T) []string
	// build makes the value from the files list returned, as read.
	build func([]file) (T, error)
	limit int64

	mu    sync.RWMutex
	sum   [sha256.Size]byte // of the files the value was built from
	value T
	// broken is the digest of the last version refused, so that it is
	// reported once.
	broken [sha256.Size]byte
}

// load builds the first value; its error is the configuration's.
func (r *reloadable[T]) load() error {
	changed, err := r.refresh()
	if err != nil {
		return err
	}
	if !changed {
		return fmt.Errorf("%s: not loaded", r.source)
	}
	return nil
}

// get returns the value in force.
func (r *reloadable[T]) get() T {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.value
}

// refresh reads the files and rebuilds the value when their names or
// contents changed, and reports whether it did. On error the old value
// stays, and the error is returned once per broken version: a broken
// version seen again returns (false, nil).
func (r *reloadable[T]) refresh() (bool, error) {
	r.mu.RLock()
	current := r.value
	r.mu.RUnlock()
	paths, err := r.list()
	if err != nil {
		return r.refused(sha256.Sum256([]byte("list: "+err.Error())), fmt.Errorf("%s: %w", r.source, err))
	}
	var files []file
	for _, p := range paths {
		b, err := readfile.Limited(p, r.limit)
		if err != nil {
			return r.refused(sha256.Sum256([]byte("read: "+err.Error())), fmt.Errorf("%s: %w", r.source, err))
		}
		files = append(files, file{p, b})
	}
	digest, err := r.digest(files, current)
	if err != nil {
		return r.refused(sha256.Sum256([]byte("read: "+err.Error())), fmt.Errorf("%s: %w", r.source, err))
	}
	r.mu.Lock()
	if digest == r.sum {
		r.broken = [sha256.Size]byte{} // back to the version in force
	}
	same := digest == r.sum || digest == r.broken
	r.mu.Unlock()
	if same {
		return false, nil
	}
	v, err := r.build(files)
	if err != nil {
		return r.refused(digest, err)
	}
	if r.extra != nil && !slices.Equal(r.extra(v), r.extra(current)) {
		// The new value reads other extra files: hash those, or the next
		// refresh would see a change and rebuild for nothing.
		if digest, err = r.digest(files, v); err != nil {
			return r.refused(sha256.Sum256([]byte("read: "+err.Error())), fmt.Errorf("%s: %w", r.source, err))
		}
	}
	r.mu.Lock()
	r.sum, r.value, r.broken = digest, v, [sha256.Size]byte{}
	r.mu.Unlock()
	return true, nil
}

// digest hashes files (as read) and the extra files of value (read now).
func (r *reloadable[T]) digest(files []file, value T) ([sha256.Size]byte, error) {
	d := sha256.New()
	add := func(path string, b []byte) error {
		// Lengths first, so that no two sets of files hash alike.
		d.Write(binary.BigEndian.AppendUint64(nil, uint64(len(path))))
		d.Write([]byte(path))
		d.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		d.Write(b)
		return nil
	}
	for _, f := range files {
		add(f.path, f.b)
	}
	d.Write([]byte{0}) // the extra files are another group
	var sum [sha256.Size]byte
	if r.extra != nil {
		if err := readfile.Each(r.extra(value), r.limit, add); err != nil {
			return sum, err
		}
	}
	d.Sum(sum[:0])
	return sum, nil
}

// refused records a version that did not build (digest identifies it, or
// the error for files that could not be read) and returns err the first
// time.
func (r *reloadable[T]) refused(digest [sha256.Size]byte, err error) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if digest == r.broken {
		return false, nil
	}
	r.broken = digest
	return false, err
}

// listFiles is a reloadable's list function for files and directories of
// them (one level deep).
func listFiles(paths []string) func() ([]string, error) {
	return func() ([]string, error) { return readfile.List(paths) }
}
