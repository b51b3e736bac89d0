// Package logbuf is a log sink for tests: a buffer that plugins' goroutines
// may write to while the test reads it.
package logbuf

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// Buffer is a bytes.Buffer safe for concurrent Write and String.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Contains says whether substr has been written, waiting up to within for
// it: a plugin's log lines reach the host through go-plugin
// asynchronously, after the call that logged them has returned.
func (l *Buffer) Contains(substr string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		if strings.Contains(l.String(), substr) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
