package tdxquote

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/hwattest/hwattest/pkg/namedpolicy"
)

// PolicyConfig is one `policy "<name>" { ... }` block of the tdx server
// plugin's HCL. Empty rules are not checked, except debug, which every
// policy refuses unless it allows it.
type PolicyConfig struct {
	// Required refuses a TD that fails the policy; otherwise the TD only
	// lacks the policy:<name> selector (report-only).
	Required bool `hcl:"required"`
	// MRTDs are the allowed MRTD values (96 hex digits).
	MRTDs []string `hcl:"mrtds"`
	// RTMR0 ... RTMR3 are the allowed values of each run-time register.
	RTMR0 []string `hcl:"rtmr0"`
	RTMR1 []string `hcl:"rtmr1"`
	RTMR2 []string `hcl:"rtmr2"`
	RTMR3 []string `hcl:"rtmr3"`
	// MRSeams are the allowed TDX module measurements.
	MRSeams []string `hcl:"mrseams"`
	// MRConfigIDs and MROwners are the allowed host-set values.
	MRConfigIDs []string `hcl:"mr_config_ids"`
	MROwners    []string `hcl:"mr_owners"`
	// AllowDebug accepts a TD with the DEBUG attribute (its state is
	// readable by the host). Off by default.
	AllowDebug bool `hcl:"allow_debug"`
}

// Policy is a compiled PolicyConfig.
type Policy struct {
	Name     string
	Required bool
	debug    bool
	fields   []field
}

type field struct {
	name    string
	allowed [][]byte
	get     func(*Result) []byte
}

func rtmr(i int) func(*Result) []byte {
	return func(r *Result) []byte {
		if i < len(r.RTMRs) {
			return r.RTMRs[i]
		}
		return nil
	}
}

// Compile validates the block, reporting every problem.
func (c PolicyConfig) Compile(name string) (*Policy, error) {
	p := &Policy{Name: name, Required: c.Required, debug: c.AllowDebug}
	var errs []error
	if name == "" || strings.ContainsAny(name, " :") {
		errs = append(errs, fmt.Errorf("policy %q: a name without spaces or colons is required", name))
	}
	for _, f := range []struct {
		key  string
		list []string
		get  func(*Result) []byte
	}{
		{"mrtds", c.MRTDs, func(r *Result) []byte { return r.MRTD }},
		{"rtmr0", c.RTMR0, rtmr(0)}, {"rtmr1", c.RTMR1, rtmr(1)}, {"rtmr2", c.RTMR2, rtmr(2)}, {"rtmr3", c.RTMR3, rtmr(3)},
		{"mrseams", c.MRSeams, func(r *Result) []byte { return r.MRSeam }},
		{"mr_config_ids", c.MRConfigIDs, func(r *Result) []byte { return r.MRConfigID }},
		{"mr_owners", c.MROwners, func(r *Result) []byte { return r.MROwner }},
	} {
		if len(f.list) == 0 {
			continue
		}
		fl := field{name: f.key, get: f.get}
		for _, s := range f.list {
			b, err := hex.DecodeString(s)
			if err != nil || len(b) != 48 {
				if len(s) > 100 {
					s = s[:100] + "..."
				}
				errs = append(errs, fmt.Errorf("policy %q: %s: %q is not 96 hex digits", name, f.key, s))
				continue
			}
			fl.allowed = append(fl.allowed, b)
		}
		p.fields = append(p.fields, fl)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Evaluate returns why res fails the policy, one line per failed rule.
func (p *Policy) Evaluate(res *Result) []string {
	var fails []string
	if res.Debug() && !p.debug {
		fails = append(fails, "the TD has the DEBUG attribute (the host can read its state)")
	}
	for _, f := range p.fields {
		got := f.get(res)
		ok := false
		for _, a := range f.allowed {
			ok = ok || bytes.Equal(a, got)
		}
		if !ok {
			fails = append(fails, fmt.Sprintf("%s %s is not allowed", strings.TrimSuffix(f.name, "s"), hex.EncodeToString(got)))
		}
	}
	return fails
}

// EvaluatePolicies evaluates every policy and returns the names of those
// satisfied (sorted) and the reasons a required policy failed.
func EvaluatePolicies(policies []*Policy, res *Result) (satisfied, refused []string) {
	return namedpolicy.Evaluate(policies, res)
}

// Named implements namedpolicy.Policy.
func (p *Policy) Named() (string, bool) { return p.Name, p.Required }
