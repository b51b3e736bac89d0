// Package hclconf decodes plugin configuration (HCL v1, as SPIRE passes it)
// and reports unknown keys. hashicorp/hcl v1.0.0 collects unused keys for a
// ",unusedKeys" field but never stores them, so the keys are checked here
// against the struct's hcl tags.
package hclconf

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
)

// Decode decodes text into v (a pointer to a struct with hcl tags) and
// returns one error per unknown top-level key, sorted, after any syntax
// error.
func Decode(text string, v any) []error {
	file, err := hcl.Parse(text)
	if err != nil {
		return []error{fmt.Errorf("parse configuration: %w", err)}
	}
	if err := hcl.DecodeObject(v, file); err != nil {
		return []error{fmt.Errorf("decode configuration: %w", err)}
	}
	known := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("hcl"), ",")
		if name != "" {
			known[name] = true
		}
	}
	list, ok := file.Node.(*ast.ObjectList)
	if !ok {
		return nil
	}
	var unknown []string
	for _, item := range list.Items {
		if len(item.Keys) == 0 {
			continue
		}
		key := strings.Trim(item.Keys[0].Token.Text, `"`)
		if !known[key] {
			unknown = append(unknown, key)
		}
	}
	sort.Strings(unknown)
	errs := make([]error, 0, len(unknown))
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("unknown configuration key %q", k))
	}
	return errs
}
