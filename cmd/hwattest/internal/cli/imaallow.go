package cli

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// imaAllowlist is the IMA allowlist reference derives: every digest the
// verified IMA logs of the machines hold (files, and ima-buf buffers, which
// the policy checks too; not the boot_aggregate, which it does not).
type imaAllowlist struct {
	// paths maps a hex digest to the paths logged with it, sorted.
	paths map[string][]string
	// partial counts digests not measured on every machine.
	partial int
}

// deriveIMAAllowlist takes the union of the machines' IMA entries. Every
// machine must have a verified IMA log: an allowlist from some machines
// only would refuse the files of the others.
func deriveIMAAllowlist(ms []machine) (*imaAllowlist, error) {
	a := &imaAllowlist{paths: map[string][]string{}}
	count := map[string]int{}
	for _, m := range ms {
		if m.res.IMA == nil {
			return nil, usageErrorf("--ima-allowlist: %s has no IMA log (capture it with hwattest evidence --ima-log and PCR 10 in --pcrs)", m.path)
		}
		seen := map[string]bool{}
		for _, e := range m.res.IMA.Entries {
			h := hex.EncodeToString(e.Hash)
			p := oneLine(e.Path) // a path may hold any byte but NUL
			if !slices.Contains(a.paths[h], p) {
				a.paths[h] = append(a.paths[h], p)
			}
			if !seen[h] {
				seen[h] = true
				count[h]++
			}
		}
	}
	for h, n := range count {
		sort.Strings(a.paths[h])
		if n < len(ms) {
			a.partial++
		}
	}
	return a, nil
}

// file writes the allowlist in sha256sum's output format, which the server
// plugin's ima_allowlist_paths reads: "<hex>  <path>", one line per path,
// sorted by path; the path is informational.
func (a *imaAllowlist) file(name string, ms []machine, now time.Time) []byte {
	type line struct{ path, hash string }
	var lines []line
	for h, ps := range a.paths {
		for _, p := range ps {
			lines = append(lines, line{p, h})
		}
	}
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].path != lines[j].path {
			return lines[i].path < lines[j].path
		}
		return lines[i].hash < lines[j].hash
	})
	var b strings.Builder
	fmt.Fprintf(&b, "# IMA allowlist of policy %q, written by hwattest reference at %s\n", name, now.Format(time.RFC3339))
	fmt.Fprintf(&b, "# from the verified IMA logs of %d evidence files: every file digest measured\n", len(ms))
	fmt.Fprintf(&b, "# on any of them (the digests as IMA logged them). Format: <hex>  <path>; the\n")
	fmt.Fprintf(&b, "# path is informational, the policy matches digests.\n")
	for _, l := range lines {
		fmt.Fprintf(&b, "%s  %s\n", l.hash, l.path)
	}
	return []byte(b.String())
}

// digests is the number of distinct digests.
func (a *imaAllowlist) digests() int { return len(a.paths) }

// allowlistRef is how the policy file refers to the allowlist file: by its
// name when both are in one directory (the plugin resolves relative paths
// against the policy file's directory), otherwise by its absolute path.
func allowlistRef(policyOut, allowlist string) (string, error) {
	abs, err := filepath.Abs(allowlist)
	if err != nil {
		return "", usageErrorf("--ima-allowlist %s: %w", allowlist, err)
	}
	if policyOut != "-" {
		dir, err := filepath.Abs(filepath.Dir(policyOut))
		if err == nil && dir == filepath.Dir(abs) {
			return filepath.Base(abs), nil
		}
	}
	return abs, nil
}
