package refusal_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hwattest/hwattest/pkg/refusal"
)

type reasonA string
type reasonB string

// TestReasonOf: the reason is found through wrapping, and only for the
// reason type asked for (one verifier's refusal is not another's).
func TestReasonOf(t *testing.T) {
	err := fmt.Errorf("plugin: %w", &refusal.Error[reasonA]{Reason: "malformed", Err: errors.New("pkg: too short")})
	if got := refusal.ReasonOf[reasonA](err); got != "malformed" {
		t.Errorf("ReasonOf = %q", got)
	}
	if got := refusal.ReasonOf[reasonB](err); got != "" {
		t.Errorf("ReasonOf of another type = %q", got)
	}
	if got := refusal.ReasonOf[reasonA](errors.New("other")); got != "" {
		t.Errorf("ReasonOf(plain error) = %q", got)
	}
	if err.Error() != "plugin: pkg: too short" {
		t.Errorf("message %q", err)
	}
}
