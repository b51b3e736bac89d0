package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// parsePCRs parses a PCR selection such as "sha256:0-7,10,sha1:0-7": a
// comma-separated list in which an element "<bank>:<indices>" starts a bank
// and a bare index or range continues the current one.
func parsePCRs(spec string) (tpmquote.PCRSelection, error) {
	sel := tpmquote.PCRSelection{}
	var bank tpmquote.HashAlg
	for _, elem := range strings.Split(spec, ",") {
		elem = strings.TrimSpace(elem)
		if name, rest, ok := strings.Cut(elem, ":"); ok {
			alg, err := tpmquote.ParseHashAlg(name)
			if err != nil {
				return nil, fmt.Errorf("unknown PCR bank %q (want sha1, sha256, sha384 or sha512)", name)
			}
			if _, dup := sel[alg]; dup {
				return nil, fmt.Errorf("bank %s given twice", alg)
			}
			bank, elem = alg, rest
			sel[bank] = nil
		}
		if bank == 0 {
			return nil, fmt.Errorf("%q: start with a bank, as in sha256:0-7", elem)
		}
		lo, hi, isRange := strings.Cut(elem, "-")
		if !isRange {
			hi = lo
		}
		first, err1 := strconv.Atoi(lo)
		last, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || first > last {
			return nil, fmt.Errorf("%q is not a PCR index or range such as 0-7", elem)
		}
		for i := first; i <= last; i++ {
			if i < 0 || i > tpmquote.MaxPCR {
				return nil, fmt.Errorf("PCR %d is out of range 0..%d", i, tpmquote.MaxPCR)
			}
			if slices.Contains(sel[bank], i) {
				return nil, fmt.Errorf("%s PCR %d given twice", bank, i)
			}
			sel[bank] = append(sel[bank], i)
		}
	}
	for _, idx := range sel {
		slices.Sort(idx)
	}
	return sel, sel.Validate()
}

// formatRanges formats sorted PCR indices as "0-7,10".
func formatRanges(idx []int) string {
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		} else {
			parts = append(parts, strconv.Itoa(idx[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// formatSelection formats a selection in parsePCRs' syntax.
func formatSelection(sel tpmquote.PCRSelection) string {
	var parts []string
	for _, alg := range sel.Banks() {
		idx := slices.Clone(sel[alg])
		slices.Sort(idx)
		parts = append(parts, alg.String()+":"+formatRanges(idx))
	}
	return strings.Join(parts, ",")
}
