package repocheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// claimCell is a "Shown by" cell of docs/threat-model.md: a package path
// followed by the tests (`pkg TestA`, `TestB` (detail); `other/pkg TestC`).
var (
	claimPkg  = regexp.MustCompile("`([a-z0-9/]+) ((?:Test|Fuzz)\\w+)`")
	claimTest = regexp.MustCompile("`((?:Test|Fuzz)\\w+)`")
)

// TestThreatModelNamesRealTests: every test docs/threat-model.md points at
// as the evidence for a claim exists in the package it names, so that the
// page cannot keep a claim whose test was renamed or removed.
func TestThreatModelNamesRealTests(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "threat-model.md"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(line, "|") {
			continue
		}
		shown := cells[len(cells)-2]
		// Within a cell, a test without a package belongs to the last
		// package named before it.
		for _, part := range strings.Split(shown, ";") {
			pkg := ""
			for _, tok := range regexp.MustCompile("`[^`]+`").FindAllString(part, -1) {
				if m := claimPkg.FindStringSubmatch(tok); m != nil {
					pkg = m[1]
					checkTest(t, root, pkg, m[2])
					checked++
				} else if m := claimTest.FindStringSubmatch(tok); m != nil {
					if pkg == "" {
						t.Errorf("threat-model.md: %s names no package: %q", m[1], strings.TrimSpace(part))
						continue
					}
					checkTest(t, root, pkg, m[1])
					checked++
				}
			}
		}
	}
	if checked < 40 {
		t.Errorf("checked %d test references, expected at least 40", checked)
	}
}

func checkTest(t *testing.T, root, pkg, name string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, pkg, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Errorf("threat-model.md: package %s has no tests", pkg)
		return
	}
	decl := regexp.MustCompile(`(?m)^func ` + name + `\(`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if decl.Match(b) {
			return
		}
	}
	t.Errorf("threat-model.md: %s is not a test of %s", name, pkg)
}
