// Package readfile reads files whose size cannot be trusted to stat: procfs
// and securityfs files report size 0, so a size limit must be enforced while
// reading.
package readfile

import (
	"fmt"
	"io"
	"os"
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
