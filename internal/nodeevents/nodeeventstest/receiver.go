// Package nodeeventstest is test-only: a webhook that keeps the node events
// posted to it, for the attestors' tests.
package nodeeventstest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/hwattest/hwattest/internal/nodeevents"
)

// Receiver is a webhook on loopback that keeps every event it accepted.
type Receiver struct {
	URL string

	mu     sync.Mutex
	events []event.Event
	header []http.Header
	n      int
	answer func(n int) int
}

// Start starts a receiver answering 202 to each POST, or answer(n) for the
// n-th (from 1) when answer is not nil; it stops with the test.
func Start(tb testing.TB, answer func(n int) int) *Receiver {
	r := &Receiver{answer: answer}
	srv := httptest.NewServer(r)
	tb.Cleanup(srv.Close)
	r.URL = srv.URL + "/events"
	return r
}

// StartTLS is Start over TLS; it returns the receiver and its certificate
// (PEM) for a webhook's ca_path.
func StartTLS(tb testing.TB) (*Receiver, *httptest.Server) {
	r := &Receiver{}
	srv := httptest.NewTLSServer(r)
	tb.Cleanup(srv.Close)
	r.URL = srv.URL + "/events"
	return r, srv
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	r.n++
	code := http.StatusAccepted
	if r.answer != nil {
		code = r.answer(r.n)
	}
	var e event.Event
	if code/100 == 2 && req.Header.Get("Content-Type") == nodeevents.ContentType && json.Unmarshal(body, &e) == nil {
		r.events = append(r.events, e)
		r.header = append(r.header, req.Header.Clone())
	}
	r.mu.Unlock()
	w.WriteHeader(code)
}

// Requests is how many POSTs the receiver answered.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Wait returns the events accepted once there are n, failing the test
// after 20 s.
func (r *Receiver) Wait(tb testing.TB, n int) []event.Event {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		out := append([]event.Event(nil), r.events...)
		r.mu.Unlock()
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			tb.Fatalf("webhook received %d events, want %d", len(out), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitType returns the events accepted once one of type typ is among
// them, failing the test after timeout.
func (r *Receiver) WaitType(tb testing.TB, typ string, timeout time.Duration) []event.Event {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		out := append([]event.Event(nil), r.events...)
		r.mu.Unlock()
		for _, e := range out {
			if e.Type() == typ {
				return out
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no %s event among %d", typ, len(out))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Header is the header of the i-th accepted event's request.
func (r *Receiver) Header(i int) http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.header[i]
}

// Types are the events' types without "io.hwattest.node." and ".v1",
// space-separated.
func Types(events []event.Event) string {
	var out []string
	for _, e := range events {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(e.Type(), "io.hwattest.node."), ".v1"))
	}
	return strings.Join(out, " ")
}

// Data decodes an event's data.
func Data(tb testing.TB, e event.Event) nodeevents.Node {
	tb.Helper()
	var n nodeevents.Node
	if err := e.DataAs(&n); err != nil {
		tb.Fatalf("event %s: data: %v", e.ID(), err)
	}
	return n
}
