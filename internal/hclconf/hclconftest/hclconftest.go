// Package hclconftest fuzzes a plugin's configuration builder: the parser
// every SPIRE operator's plugin_data goes through.
package hclconftest

import (
	"strings"
	"testing"
)

// Fuzz runs build on arbitrary HCL text, seeded with seeds. build must not
// panic, and it must be deterministic: the same text gives the same error
// text, so that SPIRE's Validate and Configure (and two servers of one
// cluster) report the same problems in the same order. An error must not
// carry a formatting mistake (%!).
func Fuzz[C any](f *testing.F, build func(text string) (C, error), seeds ...string) {
	f.Helper()
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add("")
	f.Add("{")
	f.Add(`unknown_key = 1`)
	f.Add(`policy "\400n" {}`) // hashicorp/hcl v1 panics on it (hclconf recovers)
	f.Add(`policy {}`)
	f.Fuzz(func(t *testing.T, text string) {
		_, err1 := build(text)
		_, err2 := build(text)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("two builds of one text differ:\n%v\n%v", err1, err2)
		}
		if err1 != nil && strings.Contains(err1.Error(), "%!") {
			t.Errorf("malformed error: %v", err1)
		}
	})
}
