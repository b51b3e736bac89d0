// Package readfile reads files whose size cannot be trusted to stat: procfs
// and securityfs files report size 0, so a size limit must be enforced while
// reading. It also lists the files of configuration paths that name files or
// directories.
package readfile

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Limited reads the file at path, refusing one larger than limit bytes. It
// reads at most limit+1 bytes whatever the file claims its size is. Errors
// opening or reading the file are returned as they are (they name the path).
func Limited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// List returns the regular files named by paths: a file as it is, a
// directory's regular files one level deep (in name order), subdirectories
// and other entries skipped. A directory's symbolic links to regular files
// count as files: a Kubernetes ConfigMap or Secret volume holds only such
// links (name -> ..data/name); links to anything else, and broken ones, are
// skipped. A path that does not exist is an error, and so
// is one (or a symlink to one) that is neither a regular file nor a
// directory: a FIFO or a device would block or never end the read of a
// configuration file.
func List(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() {
			files = append(files, p)
			continue
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s is neither a regular file nor a directory", p)
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			f := filepath.Join(p, e.Name())
			switch {
			case e.Type().IsRegular():
				files = append(files, f)
			case e.Type()&fs.ModeSymlink != 0:
				if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
					files = append(files, f)
				}
			}
		}
	}
	return files, nil
}

// Each calls fn with the path and contents of every file List finds, each
// read with Limited.
func Each(paths []string, limit int64, fn func(path string, b []byte) error) error {
	files, err := List(paths)
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := Limited(f, limit)
		if err != nil {
			return err
		}
		if err := fn(f, b); err != nil {
			return err
		}
	}
	return nil
}

// Lines calls fn with every line of b (a file's contents, named path in
// errors), trimmed of surrounding space and numbered from 1. A line longer
// than 64 KiB is an error.
func Lines(path string, b []byte, fn func(line int, s string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<10)
	for line := 1; sc.Scan(); line++ {
		if err := fn(line, strings.TrimSpace(sc.Text())); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
