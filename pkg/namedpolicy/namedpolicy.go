// Package namedpolicy is what the confidential-VM verifiers (pkg/snpreport,
// pkg/tdxquote) do the same way with their named policies: compile the HCL
// blocks in name order, reporting every problem, and evaluate the compiled
// policies against a verified result. Each verifier keeps its own rules.
package namedpolicy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Policy is one compiled named policy over results of type R.
type Policy[R any] interface {
	// Evaluate returns why res fails the policy (nothing: it passes).
	Evaluate(res R) []string
	// Named returns the policy's name and whether failing it refuses.
	Named() (name string, required bool)
}

// Compile compiles every configured policy, in name order, and returns the
// problems of those that do not compile.
func Compile[C interface{ Compile(name string) (P, error) }, P any](configs map[string]C) ([]P, []error) {
	var policies []P
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		p, err := configs[name].Compile(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		policies = append(policies, p)
	}
	return policies, errs
}

// Evaluate evaluates every policy and returns the names of those satisfied
// (sorted) and, for each required policy failed, why.
func Evaluate[R any, P Policy[R]](policies []P, res R) (satisfied, refused []string) {
	for _, p := range policies {
		name, required := p.Named()
		fails := p.Evaluate(res)
		switch {
		case len(fails) == 0:
			satisfied = append(satisfied, name)
		case required:
			refused = append(refused, fmt.Sprintf("policy %q: %s", name, strings.Join(fails, "; ")))
		}
	}
	slices.Sort(satisfied)
	return satisfied, refused
}
