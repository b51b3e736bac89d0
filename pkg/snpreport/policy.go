package snpreport

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-sev-guest/kds"

	"github.com/hwattest/hwattest/pkg/namedpolicy"
)

// PolicyConfig is one `policy "<name>" { ... }` block of the sev_snp server
// plugin's HCL. Empty rules are not checked, except debug and the migration
// agent, which every policy refuses unless it allows them.
type PolicyConfig struct {
	// Required refuses a VM that fails the policy (PermissionDenied);
	// otherwise the VM only lacks the policy:<name> selector (report-only).
	Required bool `hcl:"required"`
	// Measurements are the allowed launch measurements (96 hex digits).
	Measurements []string `hcl:"measurements"`
	// AllowDebug accepts a VM whose guest policy lets the host debug
	// (decrypt) it. Off by default: such a VM has no confidentiality.
	AllowDebug bool `hcl:"allow_debug"`
	// AllowMigrationAgent accepts a VM whose guest policy allows a
	// migration agent (which can read its memory). Off by default.
	AllowMigrationAgent bool `hcl:"allow_migration_agent"`
	// ForbidSMT refuses a VM whose guest policy allows simultaneous
	// multithreading (sibling-thread side channels).
	ForbidSMT bool `hcl:"forbid_smt"`
	// MinimumTCB is the lowest accepted reported TCB per component:
	// bootloader, tee, snp, microcode.
	MinimumTCB map[string]int `hcl:"minimum_tcb"`
	// MinimumGuestSVN is the lowest accepted guest SVN (from the ID block).
	MinimumGuestSVN int `hcl:"minimum_guest_svn"`
	// HostData are the allowed HOST_DATA values (64 hex digits).
	HostData []string `hcl:"host_data"`
	// IDKeyDigests are the allowed ID key digests (96 hex digits); a VM
	// without an ID block fails when set.
	IDKeyDigests []string `hcl:"id_key_digests"`
	// AuthorKeyDigests are the allowed author key digests (96 hex digits).
	AuthorKeyDigests []string `hcl:"author_key_digests"`
	// VMPLs are the allowed privilege levels of the requester (0-3).
	VMPLs []int `hcl:"vmpls"`
	// Products are the allowed product lines ("Milan", "Genoa", "Turin").
	Products []string `hcl:"products"`
	// Signers are the allowed report signers: "vcek", "vlek".
	Signers []string `hcl:"signers"`
}

// TCBComponents are the names of minimum_tcb's keys.
var TCBComponents = []string{"bootloader", "tee", "snp", "microcode"}

// Policy is a compiled PolicyConfig.
type Policy struct {
	Name     string
	Required bool
	conf     PolicyConfig
	measure  [][]byte
	hostData [][]byte
	idKeys   [][]byte
	authors  [][]byte
	minTCB   map[string]uint8
}

// Compile validates the block, reporting every problem.
func (c PolicyConfig) Compile(name string) (*Policy, error) {
	p := &Policy{Name: name, Required: c.Required, conf: c, minTCB: map[string]uint8{}}
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("policy %q: "+format, append([]any{name}, args...)...))
	}
	if name == "" || strings.ContainsAny(name, " :") {
		add("a name without spaces or colons is required")
	}
	var err error
	for _, f := range []struct {
		key  string
		list []string
		size int
		into *[][]byte
	}{
		{"measurements", c.Measurements, 48, &p.measure},
		{"host_data", c.HostData, 32, &p.hostData},
		{"id_key_digests", c.IDKeyDigests, 48, &p.idKeys},
		{"author_key_digests", c.AuthorKeyDigests, 48, &p.authors},
	} {
		if *f.into, err = hexList(f.list, f.size); err != nil {
			add("%s: %v", f.key, err)
		}
	}
	keys := make([]string, 0, len(c.MinimumTCB))
	for k := range c.MinimumTCB {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := c.MinimumTCB[k]
		switch {
		case !slices.Contains(TCBComponents, k):
			add("minimum_tcb: unknown component %q (want %s)", k, strings.Join(TCBComponents, ", "))
		case v < 0 || v > 255:
			add("minimum_tcb: %s %d is not 0-255", k, v)
		default:
			p.minTCB[k] = uint8(v)
		}
	}
	if c.MinimumGuestSVN < 0 {
		add("minimum_guest_svn %d is negative", c.MinimumGuestSVN)
	}
	for _, v := range c.VMPLs {
		if v < 0 || v > 3 {
			add("vmpls: %d is not 0-3", v)
		}
	}
	for _, pr := range c.Products {
		if !slices.Contains(ProductLines, pr) {
			add("products: unknown product line %q (want %s)", pr, strings.Join(ProductLines, ", "))
		}
	}
	for _, s := range c.Signers {
		if s != "vcek" && s != "vlek" {
			add("signers: %q is not vcek or vlek", s)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Evaluate returns why res fails the policy, one line per failed rule; none
// when it passes.
func (p *Policy) Evaluate(res *Result) []string {
	var fails []string
	c := p.conf
	if res.Policy.Debug && !c.AllowDebug {
		fails = append(fails, "debug is enabled in the guest policy (the host can decrypt the VM)")
	}
	if res.Policy.MigrateMA && !c.AllowMigrationAgent {
		fails = append(fails, "the guest policy allows a migration agent")
	}
	if res.Policy.SMT && c.ForbidSMT {
		fails = append(fails, "the guest policy allows SMT")
	}
	if len(p.measure) > 0 && !anyEqual(p.measure, res.Measurement) {
		fails = append(fails, "measurement "+hex.EncodeToString(res.Measurement)+" is not allowed")
	}
	if len(p.hostData) > 0 && !anyEqual(p.hostData, res.HostData) {
		fails = append(fails, "host data "+hex.EncodeToString(res.HostData)+" is not allowed")
	}
	if len(p.idKeys) > 0 && !anyEqual(p.idKeys, res.IDKeyDigest) {
		fails = append(fails, "ID key digest "+hex.EncodeToString(res.IDKeyDigest)+" is not allowed")
	}
	if len(p.authors) > 0 && !anyEqual(p.authors, res.AuthorKeyDigest) {
		fails = append(fails, "author key digest "+hex.EncodeToString(res.AuthorKeyDigest)+" is not allowed")
	}
	got := TCBValues(res.ReportedTCB)
	for _, k := range TCBComponents {
		if min, ok := p.minTCB[k]; ok && got[k] < min {
			fails = append(fails, fmt.Sprintf("reported TCB %s %d is below the minimum %d", k, got[k], min))
		}
	}
	if int(res.GuestSVN) < c.MinimumGuestSVN {
		fails = append(fails, fmt.Sprintf("guest SVN %d is below the minimum %d", res.GuestSVN, c.MinimumGuestSVN))
	}
	if len(c.VMPLs) > 0 && !slices.Contains(c.VMPLs, int(res.VMPL)) {
		fails = append(fails, fmt.Sprintf("VMPL %d is not allowed", res.VMPL))
	}
	if len(c.Products) > 0 && !slices.Contains(c.Products, res.Product) {
		fails = append(fails, fmt.Sprintf("product %q is not allowed", res.Product))
	}
	if len(c.Signers) > 0 && !slices.Contains(c.Signers, res.Signer) {
		fails = append(fails, fmt.Sprintf("signer %q is not allowed", res.Signer))
	}
	return fails
}

// EvaluatePolicies evaluates every policy and returns the names of those
// satisfied (sorted) and the reasons a required policy failed.
func EvaluatePolicies(policies []*Policy, res *Result) (satisfied, refused []string) {
	return namedpolicy.Evaluate(policies, res)
}

// Named implements namedpolicy.Policy.
func (p *Policy) Named() (string, bool) { return p.Name, p.Required }

// TCBValues names the components of a TCB version as minimum_tcb does.
func TCBValues(t kds.TCBParts) map[string]uint8 {
	return map[string]uint8{"bootloader": t.BlSpl, "tee": t.TeeSpl, "snp": t.SnpSpl, "microcode": t.UcodeSpl}
}

func hexList(list []string, size int) ([][]byte, error) {
	var out [][]byte
	var errs []error
	for _, s := range list {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != size {
			errs = append(errs, fmt.Errorf("%q is not %d hex digits", truncate(s), 2*size))
			continue
		}
		out = append(out, b)
	}
	return out, errors.Join(errs...)
}

func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

func anyEqual(allowed [][]byte, got []byte) bool {
	for _, a := range allowed {
		if bytes.Equal(a, got) {
			return true
		}
	}
	return false
}
