// Package hclconf decodes plugin configuration (HCL v1, as SPIRE passes it)
// and reports unknown keys. hashicorp/hcl v1 collects unused keys for a
// ",unusedKeys" field but never stores them, so the keys are checked here
// against the struct's hcl tags.
package hclconf

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
)

// Decode decodes text into v (a pointer to a struct with hcl tags) and
// returns one error per unknown key (also inside labeled blocks), sorted,
// then one per labeled block defined more than once (hcl merges such blocks
// silently), after any syntax error.
func Decode(text string, v any) (errs []error) {
	// hashicorp/hcl v1 panics on some malformed input, for example an
	// invalid escape in a block label (hashicorp/hcl issue 129, open). A
	// panic would take the plugin process down with the configuration (a
	// policy file) that caused it; it is an error like any other.
	defer func() {
		if r := recover(); r != nil {
			errs = []error{fmt.Errorf("parse configuration: malformed HCL: %v", r)}
		}
	}()
	file, err := hcl.Parse(text)
	if err != nil {
		return []error{fmt.Errorf("parse configuration: %w", err)}
	}
	if err := hcl.DecodeObject(v, file); err != nil {
		return []error{fmt.Errorf("decode configuration: %w", err)}
	}
	list, ok := file.Node.(*ast.ObjectList)
	if !ok {
		return nil
	}
	var unknown []unknownKey
	var twice []string
	checkKeys(list, reflect.TypeOf(v).Elem(), "", &unknown, &twice)
	sort.Slice(unknown, func(i, j int) bool { return unknown[i].key < unknown[j].key })
	unknown = slices.Compact(unknown) // a key given twice is one problem
	errs = make([]error, 0, len(unknown)+len(twice))
	for _, k := range unknown {
		if k.near != "" {
			errs = append(errs, fmt.Errorf("unknown configuration key %q (did you mean %q?)", k.key, k.near))
			continue
		}
		errs = append(errs, fmt.Errorf("unknown configuration key %q", k.key))
	}
	for _, b := range twice {
		errs = append(errs, fmt.Errorf("%s is defined more than once", b))
	}
	return errs
}

// checkKeys records the keys of list that t (a struct) has no hcl tag for,
// and checks labeled blocks (`name "label" { ... }`, decoded into a map of
// structs) the same way, naming them "name.label.key". Labeled blocks seen
// more than once are recorded in twice as `name "label"`.
func checkKeys(list *ast.ObjectList, t reflect.Type, prefix string, unknown *[]unknownKey, twice *[]string) {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("hcl"), ",")
		if name != "" {
			fields[name] = t.Field(i).Type
		}
	}
	seen := map[string]int{}
	for _, item := range list.Items {
		if len(item.Keys) == 0 {
			continue
		}
		key := strings.Trim(item.Keys[0].Token.Text, `"`)
		ft, ok := fields[key]
		if !ok {
			u := unknownKey{key: prefix + key}
			if near := nearest(key, fields); near != "" {
				u.near = prefix + near
			}
			*unknown = append(*unknown, u)
			continue
		}
		obj, isObj := item.Val.(*ast.ObjectType)
		if !isObj || ft.Kind() != reflect.Map || ft.Elem().Kind() != reflect.Struct {
			continue
		}
		label := ""
		if len(item.Keys) > 1 {
			name := strings.Trim(item.Keys[1].Token.Text, `"`)
			label = name + "."
			block := fmt.Sprintf("%s%s %q", prefix, key, name)
			if seen[block]++; seen[block] == 2 {
				*twice = append(*twice, block)
			}
		}
		checkKeys(obj.List, ft.Elem(), prefix+key+"."+label, unknown, twice)
	}
}

// unknownKey is a key no field has, and the known key nearest to it ("" if
// none is near).
type unknownKey struct{ key, near string }

// nearest returns the known key closest to key when it is a likely
// misspelling (an edit distance of at most 2, and at most a third of the
// key's length), "" otherwise; ties go to the first in name order.
func nearest(key string, known map[string]reflect.Type) string {
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(key, n); d < bestD && d*3 <= len(key) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes (keys are
// ASCII). Written here: a few lines, where a library would be a dependency.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
