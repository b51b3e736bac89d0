//go:build !hwattest_norego

package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/hwattest/hwattest/internal/readfile"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// regoUnsafe are the builtins a policy may not call: it decides on the
// verified evidence alone, never on the network or the verifier's
// environment (opa.runtime shows environment variables).
var regoUnsafe = map[string]struct{}{
	"http.send":          {},
	"net.lookup_ip_addr": {},
	"opa.runtime":        {},
}

// regoPolicy is a Rego policy prepared for evaluation: the module parsed and
// compiled, and the query planned, once, when the policy is compiled.
type regoPolicy struct {
	query   rego.PreparedEvalQuery
	allow   string // the allow query, as configured
	deny    string // the deny set's reference
	timeout time.Duration
}

// compileRego reads the Rego module at path (Rego v1 syntax) and prepares
// allowQuery and the deny set of its package. A query must be a reference
// into data (data.<package>.<rule>); the deny set is the rule deny of the
// same package, when the module defines it.
func compileRego(path, allowQuery string) (*regoPolicy, error) {
	if allowQuery == "" {
		allowQuery = DefaultRegoQuery
	}
	ref, err := ast.ParseRef(allowQuery)
	if err != nil || !ref.HasPrefix(ast.DefaultRootRef) || len(ref) < 3 || !ref.IsGround() {
		return nil, fmt.Errorf("query %q: want a reference data.<package>.<rule>", allowQuery)
	}
	denyRef := append(ref[:len(ref)-1].Copy(), ast.StringTerm("deny"))
	b, err := readfile.Limited(path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	mod, err := ast.ParseModuleWithOpts(path, string(b), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, err
	}
	// One query answers both, each as a list of its values: empty when
	// the rule is undefined, so that evaluate can tell undefined from a
	// value of the wrong type.
	q := fmt.Sprintf("allow := [x | x := %s]; deny := [x | x := %s]", ref, denyRef)
	prepared, err := rego.New(
		rego.Query(q),
		rego.ParsedModule(mod),
		rego.SetRegoVersion(ast.RegoV1),
		rego.UnsafeBuiltins(regoUnsafe),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(context.Background())
	if err != nil {
		return nil, err
	}
	return &regoPolicy{query: prepared, allow: allowQuery, deny: denyRef.String(), timeout: RegoTimeout}, nil
}

// evaluate runs the policy on res within its time budget: it passes only
// when the allow query is exactly true and the deny set is empty. An error,
// a timeout, an allow value that is not true, or deny reasons are failures,
// each with its reason.
func (p *regoPolicy) evaluate(res *tpmquote.Result) []string {
	input, err := ast.InterfaceToValue(RegoInput(res))
	if err != nil {
		return []string{"rego: input: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input))
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return []string{fmt.Sprintf("rego: evaluation took longer than %s", p.timeout)}
	case err != nil:
		return []string{"rego: evaluation failed: " + clip(err.Error())}
	case len(rs) != 1:
		return []string{fmt.Sprintf("rego: %d results, want 1", len(rs))}
	}
	var fails []string
	var deny []any
	switch d, _ := rs[0].Bindings["deny"].([]any); {
	case len(d) == 0: // no deny rule
	case len(d) == 1:
		set, ok := d[0].([]any)
		if !ok {
			// deny := true, or an object: fail closed rather than read
			// it as no reasons.
			return []string{fmt.Sprintf("rego: %s is %s, not a set of reasons", p.deny, clip(fmt.Sprint(d[0])))}
		}
		deny = set
	default:
		return []string{fmt.Sprintf("rego: %s has %d values", p.deny, len(d))}
	}
	for _, d := range deny {
		s, ok := d.(string)
		if !ok {
			s = fmt.Sprint(d)
		}
		fails = append(fails, "deny: "+clip(s))
	}
	sort.Strings(fails)
	if len(fails) > maxDenyReasons {
		fails = append(fails[:maxDenyReasons], fmt.Sprintf("and %d more deny reasons", len(fails)-maxDenyReasons))
	}
	allow, _ := rs[0].Bindings["allow"].([]any)
	switch {
	case len(allow) == 0:
		fails = append(fails, p.allow+" is undefined")
	case len(allow) > 1 || allow[0] != true:
		fails = append(fails, fmt.Sprintf("%s is %s, not true", p.allow, clip(fmt.Sprint(allow[0]))))
	}
	return fails
}
