package policy

import (
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// DefaultRegoQuery is the query of a Rego policy that names none.
const DefaultRegoQuery = "data.hwattest.allow"

// RegoTimeout is the time budget of one Rego policy evaluation. A policy
// that takes longer fails (a refusal when it is required): a slow policy
// must never hold up, or be skipped on, an attestation.
const RegoTimeout = time.Second

// Bounds on what a Rego policy's deny set adds to a refusal message.
const (
	maxDenyReasons   = 32
	maxDenyReasonLen = 256
)

// clip bounds a string from a policy and replaces control characters, so
// that it can go into a refusal message and a log line.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) > maxDenyReasonLen {
		s = strings.ToValidUTF8(s[:maxDenyReasonLen], "") + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// RegoInput is the input document of a Rego policy: the verified result,
// digests in lowercase hex (docs/nodeattestor-tpm.md, "Rego policies", shows it).
func RegoInput(res *tpmquote.Result) map[string]any {
	pcrs := map[string]any{}
	for alg, vals := range res.PCRs {
		bank := map[string]any{}
		for i, v := range vals {
			bank[strconv.Itoa(i)] = hex.EncodeToString(v)
		}
		pcrs[alg.String()] = bank
	}
	in := map[string]any{
		"ek": map[string]any{
			"hash": res.EKHash, "certificate_verified": res.EKCertVerified, "issuer": res.EKIssuer, "listed": res.EKListed,
			"manufacturer": res.Manufacturer, "model": res.Model, "version": res.Version,
		},
		"firmware_version": res.FirmwareVersion,
		"reset_count":      res.ResetCount,
		"restart_count":    res.RestartCount,
		"pcrs":             pcrs,
		"boot":             nil,
		"ima":              nil,
	}
	if b := res.Boot; b != nil {
		comps := make([]any, 0, len(b.Components))
		for _, c := range b.Components {
			comps = append(comps, map[string]any{"pcr": c.PCR, "type": c.Type, "bank": c.Bank.String(),
				"digest": hex.EncodeToString(c.Digest), "before_separator": c.BeforeSeparator})
		}
		in["boot"] = map[string]any{
			"secure_boot":    map[string]any{"known": b.SecureBoot.Known, "enabled": b.SecureBoot.Enabled, "detail": b.SecureBoot.Detail},
			"components":     comps,
			"component_pcrs": anyInts(b.ComponentPCRs),
			"anomalies":      anyStrings(b.Anomalies),
		}
	}
	if m := res.IMA; m != nil {
		entries := make([]any, 0, len(m.Entries))
		for _, e := range m.Entries {
			entries = append(entries, map[string]any{"path": e.Path, "hash_alg": e.HashAlg, "hash": hex.EncodeToString(e.Hash), "template": e.Template})
		}
		var agg any
		if a := m.BootAggregate; a != nil {
			agg = map[string]any{"hash_alg": a.HashAlg, "hash": hex.EncodeToString(a.Hash), "pcrs_verified": a.PCRsVerified}
		}
		in["ima"] = map[string]any{"boot_aggregate": agg, "entries": entries, "violations": anyStrings(m.Violations)}
	}
	return in
}

func anyInts(l []int) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = v
	}
	return out
}

func anyStrings(l []string) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = v
	}
	return out
}

// regoPath resolves a relative rego_path against dir.
func regoPath(path, dir string) string {
	if dir != "" && !filepath.IsAbs(path) {
		return filepath.Join(dir, path)
	}
	return path
}
