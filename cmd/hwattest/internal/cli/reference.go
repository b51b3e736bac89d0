package cli

import (
	"encoding/hex"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hwattest/hwattest/pkg/evidence"
	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// Values of --on-difference.
const (
	onDifferenceList = "list"
	onDifferenceOmit = "omit"
)

// policyName is what --name accepts: a selector value (policy:NAME) that
// needs no quoting anywhere.
var policyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// imaPCR is the PCR the kernel's IMA extends: its value changes with every
// file measured, so it is no reference value (use an IMA allowlist).
const imaPCR = 10

// componentPCRs are the PCRs whose every digest a boot_components rule
// checks (pkg/policy), whatever event type the log gives it.
var componentPCRs = []int{2, 4}

func referenceCommand() *command {
	return &command{
		name:    "reference",
		summary: "derive a reference policy from the evidence of known-good machines",
		usage:   "reference -o FILE --name NAME [--on-difference list|omit] [--required] [--ima-allowlist FILE] [--rego FILE] EVIDENCE...",
		help: `Verifies each evidence file (as hwattest verify does; any failure stops it),
then derives reference values from all of them and writes a policy file with
one block, policy "NAME" { ... }, that the server plugin reads (policy_paths)
and hwattest verify evaluates:

  ek_certificate   when every EK certificate chained to a trusted CA
  secure_boot      when every boot log shows secure boot on
  pcrs             the PCR values per bank ("<bank>:<index>:<hex>"), for the
                   PCRs every file quoted (PCR 10, IMA's, is left out: use an
                   IMA allowlist)
  boot_components  every digest the boot logs measured into PCRs 2 and 4
                   (drivers, option ROMs, boot loaders; whatever event type
                   the log gives them), when every file has a boot log that
                   establishes them
  ima_allowlist_paths
                   with --ima-allowlist FILE: FILE, written in sha256sum's
                   format with every file digest the verified IMA logs hold
                   (the union over the machines; every file needs an IMA log)

Where the machines differ, it says where on standard error and, with
--on-difference list (the default), lists each value seen (any of them
passes), or with --on-difference omit leaves that PCR (or the boot component
rule) out. The policy is report-only (required = false) unless --required: a
node that fails it only lacks the policy:NAME selector (docs/operations.md).

--rego FILE writes the same rules as a Rego module to FILE, and -o the block
that points at it (rego_path), which decides the same (not with
--ima-allowlist).`,
		flags: func(fs *flag.FlagSet) func(*env, []string) error {
			out := fs.String("o", "", "write the policy to `FILE` (- for standard output); required")
			name := fs.String("name", "", "the policy's `NAME`, the plugin's selector policy:NAME; required")
			diff := fs.String("on-difference", onDifferenceList, "where machines differ, `MODE`: list each value, or omit the PCR")
			required := fs.Bool("required", false, "write required = true: a node that fails is refused (default: report-only)")
			imaAllow := fs.String("ima-allowlist", "", "also write an IMA allowlist of every measured file to `FILE`, and refer to it")
			regoOut := fs.String("rego", "", "write the rules as a Rego module to `FILE`, and -o the block that points at it")
			var trust trustFlags
			trust.register(fs, true)
			return func(e *env, args []string) error {
				switch {
				case *out == "":
					return usageErrorf("-o FILE is required")
				case *name == "":
					return usageErrorf("--name NAME is required")
				case !policyName.MatchString(*name):
					return usageErrorf("--name %q: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128", *name)
				case *diff != onDifferenceList && *diff != onDifferenceOmit:
					return usageErrorf("--on-difference %q: want list or omit", *diff)
				case *imaAllow == "-":
					return usageErrorf("--ima-allowlist needs a file: the policy refers to it")
				case *regoOut == "-":
					return usageErrorf("--rego needs a file: the policy refers to it")
				case *regoOut != "" && *imaAllow != "":
					return usageErrorf("--rego and --ima-allowlist cannot be combined")
				case len(args) == 0:
					return usageErrorf("no evidence file given")
				}
				return runReference(e, referenceOptions{out: *out, name: *name, mode: *diff, required: *required, imaAllowlist: *imaAllow, rego: *regoOut}, &trust, args)
			}
		},
	}
}

// machine is one verified evidence file.
type machine struct {
	path string
	file *evidence.File
	res  *tpmquote.Result
}

type pcrKey struct {
	alg tpmquote.HashAlg
	idx int
}

// component is a boot component digest and where it was first seen.
type component struct {
	pcr int
	typ string
}

// referenceOptions are reference's flags.
type referenceOptions struct {
	out, name, mode string
	required        bool
	// imaAllowlist is the allowlist file to write, "" for none.
	imaAllowlist string
	// rego is the Rego module to write, "" for none.
	rego string
}

func runReference(e *env, o referenceOptions, trust *trustFlags, paths []string) error {
	out, name, required := o.out, o.name, o.required
	ek, _, _, err := trust.policy()
	if err != nil {
		return err
	}
	var ms []machine
	for _, p := range paths {
		f, err := readEvidence(p)
		if err != nil {
			return err
		}
		ms = append(ms, machine{path: p, file: f})
	}
	for i := range ms {
		res, err := ms[i].file.Verify(evidence.Options{EK: ek})
		if err != nil {
			return failedf("%s does not verify, so it gives no reference values: %w%s", ms[i].path, err, ekCAHint(err))
		}
		ms[i].res = res
	}
	d := derive(ms, o.mode)
	now := time.Now().UTC()
	var allow *imaAllowlist
	if o.imaAllowlist != "" {
		if allow, err = deriveIMAAllowlist(ms); err != nil {
			return err
		}
		if d.imaAllowlistRef, err = allowlistRef(out, o.imaAllowlist); err != nil {
			return err
		}
		d.imaBanks = ms[0].res.IMA.Banks
		if allow.partial > 0 {
			d.notes = append(d.notes, fmt.Sprintf("IMA allowlist: %d of %d digests were not measured on every machine: all of them listed", allow.partial, allow.digests()))
		}
	}
	for _, n := range d.notes {
		fmt.Fprintf(e.stderr, "%s\n", n)
	}
	for _, w := range d.weakerThanTemplate() {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	if allow != nil {
		// Written first: the policy check below reads it.
		if err := writeOutput(e, o.imaAllowlist, allow.file(name, ms, now)); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote the IMA allowlist of %q to %s: %d digests\n", name, o.imaAllowlist, allow.digests())
	}
	text := d.hcl(name, required, ms, now)
	if o.rego != "" {
		ref, err := allowlistRef(out, o.rego)
		if err != nil {
			return err
		}
		// Written first: the policy check below reads it.
		if err := writeOutput(e, o.rego, []byte(d.rego(name, ms, now))); err != nil {
			return err
		}
		text = regoHCL(name, required, ref)
	}
	// What is written must be what the plugin reads.
	dir := ""
	if out != "-" {
		dir = filepath.Dir(out)
	}
	blocks, err := policy.Parse(text)
	if err == nil {
		_, err = blocks[name].Compile(name, nil, dir)
	}
	if err != nil {
		return fmt.Errorf("the derived policy does not parse (a bug): %w", err)
	}
	if err := writeOutput(e, out, []byte(text)); err != nil {
		return err
	}
	where := out
	if out == "-" {
		where = "standard output"
	}
	mode2 := "report-only (required = false)"
	if required {
		mode2 = "required"
	}
	ima := ""
	if allow != nil {
		ima = fmt.Sprintf(", IMA allowlist %s", d.imaAllowlistRef)
	}
	if o.rego != "" {
		ima = ", in Rego in " + o.rego
	}
	fmt.Fprintf(e.stderr, "wrote policy %q to %s from %d evidence files: %d PCR values, secure_boot %v, ek_certificate %v, %d boot components%s; %s\n",
		name, where, len(ms), d.pcrValues(), d.secureBoot, d.ekCertificate, len(d.components), ima, mode2)
	return nil
}

// derived are the reference values of a set of machines.
type derived struct {
	ekCertificate bool
	secureBoot    bool
	pcrs          map[pcrKey][]string // allowed hex values, sorted
	components    map[string]component
	// componentsOmitted is why boot_components was left out.
	componentsOmitted string
	// imaAllowlistRef is the ima_allowlist_paths entry, "" for none, and
	// imaBanks the banks the IMA logs were replayed in (PCR 10 must be
	// quoted in them).
	imaAllowlistRef string
	imaBanks        []tpmquote.HashAlg
	differences     []string
	notes           []string
}

// weakerThanTemplate says which rules of the level 3 template
// (examples/policies/level3-reference.hcl: level 2's secure_boot, PCR values
// and boot components) the derived policy lacks. Levels are cumulative: a
// node that passes a level 3 policy without secure_boot need not pass level
// 2, and hwattest report then shows a gap in its ladder, not level 3.
func (d *derived) weakerThanTemplate() []string {
	var out []string
	if !d.secureBoot {
		out = append(out, "the policy lacks secure_boot, a rule of level 2 (level2-measured-boot): a node may pass it and fail level 2; hwattest report counts a level only when every level below holds")
	}
	if len(d.pcrs) == 0 {
		out = append(out, "the policy has no PCR values, which the level 3 template (level3-reference) requires")
	}
	if d.componentsOmitted != "" || len(d.components) == 0 {
		out = append(out, "the policy lacks boot_components, which the level 3 template (level3-reference) requires")
	}
	return out
}

func (d *derived) pcrValues() int {
	n := 0
	for _, v := range d.pcrs {
		n += len(v)
	}
	return n
}

func derive(ms []machine, mode string) *derived {
	d := &derived{ekCertificate: true, secureBoot: true, pcrs: map[pcrKey][]string{}, components: map[string]component{}}
	note := func(format string, args ...any) { d.notes = append(d.notes, fmt.Sprintf(format, args...)) }

	for _, m := range ms {
		if !m.res.EKCertVerified {
			d.ekCertificate = false
			note("%s: the EK certificate did not chain to a trusted CA: ek_certificate left out", m.path)
		}
		if st := secureBootState(m.res.Boot); st != "on" {
			d.secureBoot = false
			note("%s: secure boot is %s: secure_boot left out", m.path, st)
		}
	}

	// PCR values: which files quoted each PCR, and the values seen.
	seen := map[pcrKey]map[string][]string{} // PCR -> hex value -> files
	for _, m := range ms {
		for alg, bank := range m.res.PCRs {
			for idx, v := range bank {
				k := pcrKey{alg, idx}
				if seen[k] == nil {
					seen[k] = map[string][]string{}
				}
				h := hex.EncodeToString(v)
				seen[k][h] = append(seen[k][h], m.path)
			}
		}
	}
	for _, k := range sortedKeys(seen) {
		vals := seen[k]
		files := 0
		for _, fs := range vals {
			files += len(fs)
		}
		switch {
		case k.idx == imaPCR:
			note("%s PCR %d is IMA's and changes with every measured file: left out (use ima_allowlist)", k.alg, k.idx)
			continue
		case files < len(ms):
			note("%s PCR %d was quoted in %d of %d evidence files: left out", k.alg, k.idx, files, len(ms))
			continue
		}
		hexes := make([]string, 0, len(vals))
		for h := range vals {
			hexes = append(hexes, h)
		}
		sort.Strings(hexes)
		if len(hexes) > 1 {
			var where []string
			for _, h := range hexes {
				where = append(where, fmt.Sprintf("%s… in %s", h[:16], strings.Join(vals[h], ", ")))
			}
			action := "each value listed"
			if mode == onDifferenceOmit {
				action = "left out"
			}
			d.differences = append(d.differences, fmt.Sprintf("%s PCR %d: %d values, %s", k.alg, k.idx, len(hexes), action))
			note("machines differ in %s PCR %d (%s): %s", k.alg, k.idx, strings.Join(where, "; "), action)
			if mode == onDifferenceOmit {
				continue
			}
		}
		d.pcrs[k] = hexes
	}

	// Boot components, when every file has a boot log.
	var sets []map[string]bool
	for _, m := range ms {
		if m.res.Boot == nil {
			d.componentsOmitted = m.path + " has no boot event log"
			note("%s has no boot event log: boot_components left out", m.path)
			d.components = map[string]component{}
			return d
		}
		for _, idx := range componentPCRs {
			if !slices.Contains(m.res.Boot.ComponentPCRs, idx) {
				d.componentsOmitted = fmt.Sprintf("%s: the boot log does not establish PCR %d's components (not quoted, or replayed only in sha1)", m.path, idx)
				note("%s: boot_components left out", d.componentsOmitted)
				d.components = map[string]component{}
				return d
			}
		}
		set := map[string]bool{}
		for _, c := range m.res.Boot.Components {
			if !slices.Contains(componentPCRs, c.PCR) {
				continue
			}
			h := hex.EncodeToString(c.Digest)
			set[h] = true
			if _, ok := d.components[h]; !ok {
				d.components[h] = component{pcr: c.PCR, typ: c.Type}
			}
		}
		sets = append(sets, set)
	}
	var partial int
	for h := range d.components {
		for _, s := range sets {
			if !s[h] {
				partial++
				break
			}
		}
	}
	if partial > 0 {
		action := "all of them listed"
		if mode == onDifferenceOmit {
			action = "boot_components left out"
			d.componentsOmitted = "the machines' boot components differ"
			d.components = map[string]component{}
		}
		d.differences = append(d.differences, fmt.Sprintf("boot components: %d not measured on every machine, %s", partial, action))
		note("machines differ in their boot components: %d are not measured on every machine: %s", partial, action)
	}
	return d
}

// hcl writes the policy file.
func (d *derived) hcl(name string, required bool, ms []machine, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Reference values for policy %q, written by hwattest reference at %s\n", name, now.Format(time.RFC3339))
	fmt.Fprintf(&b, "# from %d evidence files, each verified offline (evidence files are not live\n", len(ms))
	fmt.Fprintf(&b, "# attestations: make sure the machines were known-good when captured):\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "#   %s: host %q, captured %s, EK %s\n", oneLine(m.path), m.file.Host, m.file.Captured.UTC().Format(time.RFC3339), m.res.EKHash)
	}
	if len(d.differences) > 0 {
		fmt.Fprintf(&b, "# Where the machines differ:\n")
		for _, s := range d.differences {
			fmt.Fprintf(&b, "#   %s\n", s)
		}
	}
	sel := tpmquote.PCRSelection{}
	for k := range d.pcrs {
		sel[k.alg] = append(sel[k.alg], k.idx)
	}
	for _, alg := range d.imaBanks {
		sel[alg] = append(sel[alg], imaPCR)
	}
	if len(sel) > 0 {
		fmt.Fprintf(&b, "# The server plugin must quote these PCRs: pcrs = %s\n", hclSelection(sel))
	}
	if !required {
		fmt.Fprintf(&b, "# required = false is report-only: a node that fails only lacks the policy:%s\n", name)
		fmt.Fprintf(&b, "# selector. Set required = true once every node has it (docs/operations.md).\n")
	}
	fmt.Fprintf(&b, "policy %q {\n", name)
	fmt.Fprintf(&b, "  required = %v\n", required)
	if d.ekCertificate {
		fmt.Fprintf(&b, "  ek_certificate = true\n")
	}
	if d.secureBoot {
		fmt.Fprintf(&b, "  secure_boot = true\n")
	}
	if len(d.pcrs) > 0 {
		fmt.Fprintf(&b, "  pcrs = [\n")
		for _, k := range sortedKeys(d.pcrs) {
			for _, v := range d.pcrs[k] {
				fmt.Fprintf(&b, "    \"%s:%d:%s\",\n", k.alg, k.idx, v)
			}
		}
		fmt.Fprintf(&b, "  ]\n")
	}
	switch {
	case d.componentsOmitted != "":
		fmt.Fprintf(&b, "  # boot_components left out: %s\n", oneLine(d.componentsOmitted))
	case len(d.components) > 0:
		fmt.Fprintf(&b, "  # every digest the verified boot logs measured into PCRs 2 and 4\n")
		fmt.Fprintf(&b, "  boot_components = [\n")
		hs := make([]string, 0, len(d.components))
		for h := range d.components {
			hs = append(hs, h)
		}
		sort.Slice(hs, func(i, j int) bool {
			a, c := d.components[hs[i]], d.components[hs[j]]
			if a.pcr != c.pcr {
				return a.pcr < c.pcr
			}
			return hs[i] < hs[j]
		})
		for _, h := range hs {
			c := d.components[h]
			fmt.Fprintf(&b, "    \"%s\", # PCR %d %s\n", h, c.pcr, c.typ)
		}
		fmt.Fprintf(&b, "  ]\n")
	}
	if d.imaAllowlistRef != "" {
		fmt.Fprintf(&b, "  # every file the verified IMA logs measured (the agent needs ima_log_path)\n")
		fmt.Fprintf(&b, "  ima_allowlist_paths = [%q]\n", d.imaAllowlistRef)
	}
	fmt.Fprintf(&b, "}\n")
	return b.String()
}

// hclSelection formats a selection as an HCL map: { sha256 = [0, 1] }.
func hclSelection(sel tpmquote.PCRSelection) string {
	var parts []string
	for _, alg := range sel.Banks() {
		idx := slices.Clone(sel[alg])
		slices.Sort(idx)
		s := make([]string, len(idx))
		for i, x := range idx {
			s[i] = fmt.Sprint(x)
		}
		parts = append(parts, fmt.Sprintf("%s = [%s]", alg, strings.Join(s, ", ")))
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func sortedKeys[V any](m map[pcrKey]V) []pcrKey {
	keys := make([]pcrKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].alg != keys[j].alg {
			return keys[i].alg < keys[j].alg
		}
		return keys[i].idx < keys[j].idx
	})
	return keys
}

// oneLine keeps s on one line (of an HCL comment, of an allowlist file).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
