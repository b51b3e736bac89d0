//go:build hwattest_norego

package policy

import (
	"errors"
	"time"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// Built with -tags hwattest_norego: no OPA in the binary (about half of the
// server plugin's size), and a policy with rego_path is a configuration
// error.
type regoPolicy struct{ timeout time.Duration }

func compileRego(string, string) (*regoPolicy, error) {
	return nil, errors.New("Rego policies are not supported by this build (built with -tags hwattest_norego)")
}

func (p *regoPolicy) evaluate(*tpmquote.Result) []string {
	return []string{"rego: not supported by this build"}
}
