package isolate

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/hwattest/hwattest/internal/nodeevents"
)

// MaxEventSize bounds an event's body.
const MaxEventSize = 64 << 10

// ParseEvent decodes and validates one node event (structured-mode JSON).
func ParseEvent(body []byte) (event.Event, error) {
	var e event.Event
	if len(body) > MaxEventSize {
		return e, fmt.Errorf("isolate: event larger than %d bytes", MaxEventSize)
	}
	if err := e.UnmarshalJSON(body); err != nil {
		return e, fmt.Errorf("isolate: event: %w", err)
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("isolate: event: %w", err)
	}
	if !strings.HasPrefix(e.Type(), "io.hwattest.node.") {
		return e, fmt.Errorf("isolate: event type %q is not a node event", e.Type())
	}
	return e, nil
}

// Handler is the webhook the server attestors post node events to. With a
// token, a request must carry it as a bearer token. Each accepted event
// calls kick, which should start a reconciliation without waiting.
func (c *Controller) Handler(token string, kick func()) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, nodeevents.ContentType) {
			http.Error(w, "want "+nodeevents.ContentType, http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEventSize))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		e, err := ParseEvent(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.HandleEvent(e)
		w.WriteHeader(http.StatusAccepted)
		kick()
	})
}

// Run reconciles at once, then every interval and whenever kick receives,
// until ctx ends. Errors are logged; the next round tries again.
func (c *Controller) Run(ctx context.Context, interval time.Duration, kick <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := c.Reconcile(ctx); err != nil && !errors.Is(err, context.Canceled) {
			c.log.Error("Reconciliation failed or incomplete", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
	}
}
