package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/hwattest/hwattest/internal/readfile"
	"github.com/hwattest/hwattest/pkg/evidence"
	"github.com/hwattest/hwattest/pkg/evidence/capture"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// toolName is recorded in the evidence files hwattest writes.
const toolName = "hwattest evidence"

func evidenceCommand() *command {
	return &command{
		name:    "evidence",
		summary: "capture a self-contained evidence file from the TPM (not a live attestation)",
		usage:   "evidence -o FILE [--tpm ADDR] [--pcrs sha256:0-7] [--event-log PATH] [--ima-log PATH]",
		help: `Captures this machine's TPM evidence into one JSON file (docs/evidence.md):
the EK certificate and public key, a fresh AK's parameters, a quote over the
selected PCRs, their values, the boot event log (and the IMA log), the TPM's
self-reported make, the capture time and the host name.

hwattest plays both parts of an attestation here: it makes a credential for
the EK bound to the AK and has the TPM activate it (proving to this machine
that the AK is in the EK's TPM), quotes with a nonce of its own and replays
the logs against the quoted PCRs. Evidence that does not verify at capture
(a boot log that does not match the PCRs) is refused with exit code 1.

The file is NOT a live attestation, and says so: its nonce was chosen by
hwattest, not by a verifier, so its quote is not fresh, and the activation
cannot be checked again offline. Use it to derive reference values
(hwattest reference) and to check a machine offline (hwattest verify); a
SPIRE server always challenges the agent itself. The file holds no secret.`,
		flags: func(fs *flag.FlagSet) func(*env, []string) error {
			out := fs.String("o", "", "write the evidence to `FILE` (- for standard output); required")
			addr := fs.String("tpm", attester.DefaultAddress, "the TPM `ADDR`ess: /dev/tpmrm0, /dev/tpm0, swtpm://host:port or swtpm+unix:///path")
			pcrs := fs.String("pcrs", "sha256:0-7", "the PCRs to quote, as `BANK:LIST`, e.g. sha256:0-7,10,sha1:0-7;\nbanks the TPM lacks are left out")
			eventLog := fs.String("event-log", attester.DefaultEventLogPath, "the boot event log `PATH`; - for none")
			imaLog := fs.String("ima-log", "", "the IMA log `PATH` ("+attester.DefaultIMALogPath+"); quote PCR 10 with it")
			ekAlg := fs.String("ek-algorithm", "rsa", "the EK, `ALG`: rsa (the agent's default) or ecc")
			akAlg := fs.String("ak-algorithm", "ecc", "the AK made for the capture, `ALG`: ecc or rsa")
			var trust trustFlags
			trust.register(fs, false)
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unexpected argument %q", args[0])
				}
				if *out == "" {
					return usageErrorf("-o FILE is required")
				}
				sel, err := parsePCRs(*pcrs)
				if err != nil {
					return usageErrorf("--pcrs: %w", err)
				}
				for _, a := range []string{*ekAlg, *akAlg} {
					if a != "rsa" && a != "ecc" {
						return usageErrorf("key algorithm %q: want rsa or ecc", a)
					}
				}
				roots, inter, _, err := trust.pools()
				if err != nil {
					return err
				}
				return runEvidence(e, *out, capture.Options{
					Address:       *addr,
					EKAlgorithm:   attester.KeyAlgorithm(*ekAlg),
					AKAlgorithm:   attester.KeyAlgorithm(*akAlg),
					PCRs:          sel,
					EventLogPath:  *eventLog,
					IMALogPath:    *imaLog,
					Roots:         roots,
					Intermediates: inter,
					Tool:          toolName,
				})
			}
		},
	}
}

func runEvidence(e *env, out string, opts capture.Options) error {
	if opts.EventLogPath == "" {
		return usageErrorf("--event-log: empty path (- for none)")
	}
	if opts.IMALogPath != "" && opts.IMALogPath != "-" && !contains(opts.PCRs, imaPCR) {
		return usageErrorf("--ima-log needs PCR %d, which IMA extends, in --pcrs (e.g. --pcrs sha256:0-7,%d)", imaPCR, imaPCR)
	}
	for _, l := range []struct{ flag, path string }{{"--event-log", opts.EventLogPath}, {"--ima-log", opts.IMALogPath}} {
		if l.path == "" || l.path == "-" {
			continue
		}
		if _, err := os.Stat(l.path); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(e.stderr, "note: no log at %s (%s): the evidence has none\n", l.path, l.flag)
		} else if err != nil {
			return usageErrorf("%s: %w", l.flag, err)
		}
	}
	start := time.Now()
	t, err := openTPM(opts.Address)
	if err != nil {
		return err
	}
	defer t.Close()
	f, res, err := capture.Evidence(t, opts)
	elapsed := time.Since(start)
	if err != nil {
		if tpmquote.ReasonOf(err) != "" {
			return failedf("%w", err)
		}
		return tpmErrorf("%w", err)
	}
	b, err := f.Encode()
	if err != nil {
		return err
	}
	if err := writeOutput(e, out, b); err != nil {
		return err
	}
	if missing := missingBanks(opts.PCRs, f.PCRSelection); len(missing) > 0 {
		fmt.Fprintf(e.stderr, "note: the TPM has no active %v bank: not quoted\n", missing)
	}
	name := out
	if out == "-" {
		name = "standard output"
	}
	fmt.Fprintf(e.stderr, "wrote %s in %s: EK %s (certificate %s), quote over %s, %s\n",
		name, elapsed.Round(time.Millisecond), res.EKHash, certState(res), formatSelection(f.PCRSelection), logState(res))
	fmt.Fprintf(e.stderr, "this file is NOT a live attestation: hwattest chose its nonce and checked credential activation itself\n")
	return nil
}

func certState(res *tpmquote.Result) string {
	if res.EKCertVerified {
		return "from " + res.EKIssuer
	}
	return "not validated by the CAs at hand"
}

func logState(res *tpmquote.Result) string {
	s := "no boot event log"
	if res.Boot != nil {
		s = fmt.Sprintf("boot log of %d events (secure boot %s)", res.Boot.Events, secureBootState(res.Boot))
	}
	if res.IMA != nil {
		s += fmt.Sprintf(", IMA log of %d files", len(res.IMA.Entries))
	}
	return s
}

func secureBootState(b *tpmquote.Boot) string {
	switch {
	case b == nil:
		return "unknown: no boot log"
	case !b.SecureBoot.Known:
		return "unknown"
	case b.SecureBoot.Enabled:
		return "on"
	}
	return "off"
}

func contains(sel tpmquote.PCRSelection, pcr int) bool {
	for _, idx := range sel {
		for _, i := range idx {
			if i == pcr {
				return true
			}
		}
	}
	return false
}

func missingBanks(asked, got tpmquote.PCRSelection) []tpmquote.HashAlg {
	var out []tpmquote.HashAlg
	for _, alg := range asked.Banks() {
		if _, ok := got[alg]; !ok {
			out = append(out, alg)
		}
	}
	return out
}

// readEvidence reads and decodes an evidence file.
func readEvidence(path string) (*evidence.File, error) {
	b, err := readfile.Limited(path, evidence.MaxSize)
	if err != nil {
		return nil, usageErrorf("%w", err)
	}
	f, err := evidence.Decode(b)
	if err != nil {
		return nil, usageErrorf("%s: %w", path, err)
	}
	return f, nil
}
