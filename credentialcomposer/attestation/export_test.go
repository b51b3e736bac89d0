package attestation

import (
	"fmt"
	"time"
)

// NewForTest returns a plugin that reads api instead of dialing the SPIRE
// server, with the clock now.
func NewForTest(api API, now func() time.Time) *Plugin {
	p := New()
	p.dial = func(string) (API, func() error, error) { return api, func() error { return nil }, nil }
	p.now = now
	return p
}

// TierTable returns the tier table as rows of submod, prefix, component,
// claim value, for the docs test.
func TierTable() [][4]string {
	var out [][4]string
	for _, r := range tierTable {
		out = append(out, [4]string{r.submod, r.prefix, r.component, fmt.Sprint(int(r.claim))})
	}
	return out
}
