package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hwattest/hwattest/pkg/evidence"
	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// Check states in verify's output.
const (
	statusPass = "pass"
	statusFail = "fail"
	statusSkip = "skip" // checked, not met, not required
	statusInfo = "info" // not a check: what offline verification cannot show
)

// checkLine is one line of verify's checks.
type checkLine struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// policyLine is one policy's outcome.
type policyLine struct {
	Name     string   `json:"name"`
	Required bool     `json:"required"`
	Passed   bool     `json:"passed"`
	Failures []string `json:"failures,omitempty"`
	Source   string   `json:"source"`
}

// fileReport is verify's report on one evidence file, also its --json form.
type fileReport struct {
	File      string           `json:"file"`
	Host      string           `json:"host,omitempty"`
	Captured  time.Time        `json:"captured"`
	Statement string           `json:"statement,omitempty"`
	EKHash    string           `json:"ek_hash,omitempty"`
	Verified  bool             `json:"verified"`
	Error     string           `json:"error,omitempty"`
	Reason    string           `json:"reason,omitempty"`
	Checks    []checkLine      `json:"checks"`
	Policies  []policyLine     `json:"policies"`
	Passed    bool             `json:"passed"`
	Result    *tpmquote.Result `json:"result,omitempty"`
}

// verifyReport is the --json output of verify.
type verifyReport struct {
	Files  []*fileReport `json:"files"`
	Passed bool          `json:"passed"`
}

func verifyCommand() *command {
	return &command{
		name:    "verify",
		summary: "verify evidence files offline and evaluate every policy of a policy file",
		usage:   "verify [--policy FILE] [--ek-ca PATH] [--require certificate] [--json] EVIDENCE...",
		help: `Verifies evidence files made by hwattest evidence, offline, and evaluates every
policy in the policy files (the server plugin's policy blocks) against each:

  ek.*                 the EK certificate against --ek-ca and the bundled vendor
                       CAs, the EK hash against --ek-hashes, as --require says
  ak.parameters        the AK is a restricted, fixedTPM signing key whose
                       creation the AK itself certified
  quote.*              the quote is signed by the AK, carries the recorded
                       nonce, covers exactly the recorded PCR selection, and
                       its digest matches the recorded PCR values
  eventlog.replay      the boot event log replays to the quoted PCRs
  ima.replay           the IMA log replays to the quoted PCR 10
  policy <name>        every rule of the policy (secure boot, reference PCR
                       values, boot components, IMA allowlist)

What offline verification cannot show is printed as info: credential
activation (that the AK is in the EK's TPM; the file only records that
hwattest checked it at capture) and freshness (the capturer chose the nonce).
Evidence that verifies shows a consistent record signed by an AK, not a live
TPM. Every policy counts, required or report-only: exit code 1 when any is
not met.`,
		flags: func(fs *flag.FlagSet) func(*env, []string) error {
			var policies listFlag
			fs.Var(&policies, "policy", "a policy `FILE` (policy blocks only), or a directory of *.hcl policy files (repeatable)")
			asJSON := fs.Bool("json", false, "print a JSON report")
			var trust trustFlags
			trust.register(fs, true)
			return func(e *env, args []string) error {
				if len(args) == 0 {
					return usageErrorf("no evidence file given")
				}
				return runVerify(e, args, policies, &trust, *asJSON)
			}
		},
	}
}

// compiledPolicy is a policy with the file it came from.
type compiledPolicy struct {
	*policy.Policy
	source string
}

// loadPolicies reads and compiles policy files: every problem is reported,
// as a usage error.
func loadPolicies(paths []string) ([]compiledPolicy, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	srcs, err := policy.LoadFiles(paths)
	if err != nil {
		return nil, usageErrorf("--policy: %w", err)
	}
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	var (
		out  []compiledPolicy
		errs []error
	)
	for _, n := range names {
		src := srcs[n]
		p, err := src.Config.Compile(n, nil, filepath.Dir(src.Path))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src.Path, err))
			continue
		}
		out = append(out, compiledPolicy{Policy: p, source: src.Path})
	}
	if len(errs) > 0 {
		return nil, usageErrorf("--policy: %w", errors.Join(errs...))
	}
	if len(out) == 0 {
		return nil, usageErrorf("--policy: no policy block in %s", strings.Join(paths, ", "))
	}
	return out, nil
}

func runVerify(e *env, files []string, policyPaths []string, trust *trustFlags, asJSON bool) error {
	policies, err := loadPolicies(policyPaths)
	if err != nil {
		return err
	}
	ek, listed, _, err := trust.policy()
	if err != nil {
		return err
	}
	var evs []*evidence.File
	for _, path := range files {
		f, err := readEvidence(path)
		if err != nil {
			return err
		}
		evs = append(evs, f)
	}
	report := &verifyReport{Passed: true}
	for i, f := range evs {
		r := verifyFile(files[i], f, ek, listed, trust.require, policies)
		report.Files = append(report.Files, r)
		report.Passed = report.Passed && r.Passed
	}
	if asJSON {
		b, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else {
		for _, r := range report.Files {
			printFileReport(e, r)
		}
	}
	if !report.Passed {
		return silentFailure
	}
	return nil
}

// verifyFile verifies one evidence file and evaluates the policies.
func verifyFile(path string, f *evidence.File, ek tpmquote.EKPolicy, listed func(string) bool, require string, policies []compiledPolicy) *fileReport {
	r := &fileReport{File: path, Host: f.Host, Captured: f.Captured, Statement: f.Statement}
	res, err := f.Verify(evidence.Options{EK: ek})
	if err != nil {
		r.Error = err.Error()
		r.Reason = string(tpmquote.ReasonOf(err))
		// Show what else holds when only the EK is refused.
		if tpmquote.ReasonOf(err) == tpmquote.ReasonEKUntrusted {
			anyEK := ek
			anyEK.Require, anyEK.Listed = tpmquote.RequireHash, func(string) bool { return true }
			if diag, derr := f.Verify(evidence.Options{EK: anyEK}); derr == nil {
				r.EKHash = diag.EKHash
				diag.EKListed = listed(diag.EKHash)
				r.Checks = checkLines(f, diag, require, true)
			}
		}
		r.Checks = append(r.Checks, checkLine{Name: "verification", Status: statusFail, Detail: strings.TrimPrefix(err.Error(), "evidence: ") + ekCAHint(err)})
		for _, p := range policies {
			r.Policies = append(r.Policies, policyLine{Name: p.Name, Required: p.Required, Source: p.source,
				Failures: []string{"not evaluated: the evidence did not verify"}})
		}
		return r
	}
	res.EKListed = listed(res.EKHash)
	r.Verified, r.EKHash, r.Result = true, res.EKHash, res
	r.Checks = checkLines(f, res, require, false)
	r.Passed = true
	for _, p := range policies {
		fails := p.Evaluate(res)
		r.Policies = append(r.Policies, policyLine{Name: p.Name, Required: p.Required, Source: p.source,
			Passed: len(fails) == 0, Failures: fails})
		r.Passed = r.Passed && len(fails) == 0
	}
	return r
}

// checkLines turns a result's checks into verify's lines, with what offline
// verification cannot show. ekRefused says the EK was refused (res then
// comes from a second pass that accepted any EK).
func checkLines(f *evidence.File, res *tpmquote.Result, require string, ekRefused bool) []checkLine {
	var out []checkLine
	for _, c := range res.Checks {
		l := checkLine{Name: c.Name, Status: statusPass, Detail: c.Detail}
		if c.Name == "ek.allowlist" {
			c.Passed = res.EKListed
			l.Detail = "EK " + res.EKHash + " is listed"
			if !c.Passed {
				l.Detail = "EK " + res.EKHash + " is not listed"
			}
		}
		switch {
		case c.Passed:
		case ekRefused && strings.HasPrefix(c.Name, "ek.") && (ekRequired(c.Name, require) || require == "either"):
			l.Status, l.Detail = statusFail, strings.TrimSpace(l.Detail+" (required: --require "+require+")")
		default:
			l.Status, l.Detail = statusSkip, strings.TrimSpace(l.Detail+" (not required: --require "+require+")")
		}
		out = append(out, l)
		if c.Name == "ak.parameters" {
			act := "not recorded"
			if f.Capture.CredentialActivated {
				act = "activated"
			}
			out = append(out, checkLine{Name: "credential.activation", Status: statusInfo,
				Detail: fmt.Sprintf("not verifiable offline; at capture %q recorded: %s", f.Tool, act)})
		}
	}
	out = append(out, checkLine{Name: "freshness", Status: statusInfo,
		Detail: "none: the capturer chose the nonce; captured " + f.Captured.UTC().Format(time.RFC3339) + " by its own clock"})
	if res.Boot != nil {
		out = append(out, checkLine{Name: "secure_boot", Status: statusInfo, Detail: secureBootState(res.Boot)})
	} else {
		out = append(out, checkLine{Name: "eventlog.replay", Status: statusSkip, Detail: "the evidence has no boot event log"})
	}
	return out
}

// ekRequired reports whether --require demands the EK check name on its
// own ("either" demands one of the two, "none" neither).
func ekRequired(name, require string) bool {
	switch require {
	case "certificate":
		return name == "ek.certificate"
	case "hash":
		return name == "ek.allowlist"
	case "both":
		return true
	}
	return false
}

func printFileReport(e *env, r *fileReport) {
	w := e.stdout
	fmt.Fprintf(w, "== %s\n", r.File)
	fmt.Fprintf(w, "host      %s (self-reported)\n", r.Host)
	fmt.Fprintf(w, "captured  %s (the capturing machine's clock)\n", r.Captured.UTC().Format(time.RFC3339))
	if r.EKHash != "" {
		fmt.Fprintf(w, "EK hash   %s\n", r.EKHash)
	}
	fmt.Fprintf(w, "note      evidence files are NOT live attestations\n")
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	for _, p := range r.Policies {
		width = max(width, len(p.Name))
	}
	line := func(status, name, detail string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-4s  %-*s  %s", status, width, name, detail), " "))
	}
	fmt.Fprintf(w, "checks\n")
	for _, c := range r.Checks {
		line(strings.ToUpper(c.Status), c.Name, c.Detail)
	}
	if len(r.Policies) > 0 {
		fmt.Fprintf(w, "policies\n")
	}
	for _, p := range r.Policies {
		st := "FAIL"
		if p.Passed {
			st = "PASS"
		}
		mode := "report-only"
		if p.Required {
			mode = "required"
		}
		line(st, p.Name, mode+", "+p.Source)
		for _, f := range p.Failures {
			line("", "", "- "+f)
		}
	}
	fmt.Fprintf(w, "result: %s\n\n", outcome(r))
}

func outcome(r *fileReport) string {
	if !r.Verified {
		return "FAIL: the evidence does not verify (" + r.Reason + ")"
	}
	var failed []string
	for _, p := range r.Policies {
		if !p.Passed {
			failed = append(failed, p.Name)
		}
	}
	if len(failed) > 0 {
		return fmt.Sprintf("FAIL: the evidence verifies; %d of %d policies not met: %s", len(failed), len(r.Policies), strings.Join(failed, ", "))
	}
	if len(r.Policies) == 0 {
		return "PASS: the evidence verifies (no policy given)"
	}
	return fmt.Sprintf("PASS: the evidence verifies and meets all %d policies", len(r.Policies))
}
