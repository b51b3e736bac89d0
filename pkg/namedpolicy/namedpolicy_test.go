package namedpolicy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/namedpolicy"
)

type conf struct{ min int }

type pol struct {
	name     string
	required bool
	min      int
}

func (c conf) Compile(name string) (*pol, error) {
	if c.min < 0 {
		return nil, errors.New("policy " + name + ": negative minimum")
	}
	return &pol{name: name, required: strings.HasPrefix(name, "req"), min: c.min}, nil
}

func (p *pol) Named() (string, bool) { return p.name, p.required }

func (p *pol) Evaluate(v int) []string {
	if v < p.min {
		return []string{fmt.Sprintf("%d is below %d", v, p.min)}
	}
	return nil
}

// TestCompileAndEvaluate: policies compile in name order with every
// problem reported; satisfied names come sorted, and only required
// failures refuse, with their reasons.
func TestCompileAndEvaluate(t *testing.T) {
	ps, errs := namedpolicy.Compile[conf, *pol](map[string]conf{"req-b": {5}, "a": {9}, "bad1": {-1}, "req-z": {1}, "bad2": {-2}})
	if len(errs) != 2 || errs[0].Error() != "policy bad1: negative minimum" || errs[1].Error() != "policy bad2: negative minimum" {
		t.Fatalf("errors %v", errs)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.name)
	}
	if strings.Join(names, " ") != "a req-b req-z" {
		t.Fatalf("compiled %v", names)
	}
	sat, ref := namedpolicy.Evaluate(ps, 3)
	if strings.Join(sat, " ") != "req-z" || strings.Join(ref, "|") != `policy "req-b": 3 is below 5` {
		t.Errorf("satisfied %v, refused %v", sat, ref)
	}
}
