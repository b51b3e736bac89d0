package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hwattest/hwattest/internal/report"
	"github.com/hwattest/hwattest/pkg/policy"
)

func reportCommand() *command {
	return &command{
		name:    "report",
		summary: "report which node meets which policy level, and what each workload requires, from a SPIRE server",
		usage:   "report --socket PATH [--format table|json|csv|html|ocsf|oscal] [-o FILE] [--levels DIR|FILE|NAMES] [--import-ap HREF]",
		help: `Reads the agents (their selectors, attestation type, SVID expiry, banned,
can re-attest) and registration entries from a SPIRE server's admin socket
(socket_path, local and unauthenticated: run it on the server as the user
that may use spire-server) and reports, for each node, the policy levels it
satisfies (its tpm:policy:<name> selectors), its highest level, EK hash,
secure boot state and TPM manufacturer; for each workload entry, its parent
and the levels a node needs to run it (those of its node alias parent).

--levels names the policies that are levels, lowest first: policy files or
directories (as the server's policy_paths; levels ordered by file name, then
policy name), or a comma-separated list of policy names in order. Without
it, every policy a node satisfies is a level, in name order.

Formats: table (a terminal), json (schema_version 1, docs/cli.md), csv (one
table, a row per node, node alias and workload), html (one self-contained
page: status colours, sortable tables, no external assets), ocsf (OCSF 1.4.0
Compliance Findings, class 2003, one JSON object per line: one per node per
level, for CSPM tools and SIEMs), oscal (an OSCAL 1.1.2 assessment-results
document for GRC tools: nodes as components, one observation per node, one
finding per node and level against the controls of
examples/oscal/hwattest-levels-catalog.json; --import-ap sets its import-ap
href, by default a back-matter resource that says hwattest keeps no separate
assessment plan).

The report shows what the server recorded at each agent's last attestation.
Exit code 0 when written, whatever the levels; 4 when the server cannot be
reached or refuses.`,
		flags: func(fs *flag.FlagSet) func(*env, []string) error {
			socket := fs.String("socket", "", "the SPIRE server's admin socket `PATH` (its socket_path)")
			format := fs.String("format", report.FormatTable, "output `FORMAT`: "+strings.Join(report.Formats, ", "))
			out := fs.String("o", "-", "write the report to `FILE` (- is standard output)")
			var levels listFlag
			fs.Var(&levels, "levels", "policy files or directories whose policies are the levels, or a comma-separated list of policy `NAMES`, lowest first (repeatable)")
			timeout := fs.Duration("timeout", 30*time.Second, "give up on the server after this `DURATION`")
			importAP := fs.String("import-ap", "", "with --format oscal: the `HREF` of the OSCAL assessment plan the results answer")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unexpected argument %q", args[0])
				}
				if *socket == "" {
					return usageErrorf("--socket PATH is required")
				}
				if !slices.Contains(report.Formats, *format) {
					return usageErrorf("--format %q: want %s", *format, strings.Join(report.Formats, ", "))
				}
				if *importAP != "" && *format != report.FormatOSCAL {
					return usageErrorf("--import-ap needs --format oscal")
				}
				names, err := levelNames(levels)
				if err != nil {
					return err
				}
				return runReport(e, *socket, *format, *out, names, *timeout, report.OSCALOptions{ImportAP: *importAP})
			}
		},
	}
}

// levelNames turns --levels into policy names, lowest level first: an
// argument that names an existing file or directory is read as policy files,
// any other is a comma-separated list of names. Nil when none is given.
func levelNames(args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	names := []string{}
	for _, a := range args {
		if _, err := os.Stat(a); err == nil {
			srcs, err := policy.LoadFiles([]string{a})
			if err != nil {
				return nil, usageErrorf("--levels: %w", err)
			}
			if len(srcs) == 0 {
				return nil, usageErrorf("--levels: no policy block in %s", a)
			}
			var fromFiles []string
			for n := range srcs {
				fromFiles = append(fromFiles, n)
			}
			sort.Slice(fromFiles, func(i, j int) bool {
				pi, pj := srcs[fromFiles[i]].Path, srcs[fromFiles[j]].Path
				if pi != pj {
					return pi < pj
				}
				return fromFiles[i] < fromFiles[j]
			})
			names = append(names, fromFiles...)
			continue
		}
		for n := range strings.SplitSeq(a, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				return nil, usageErrorf("--levels %q: an empty policy name (or a file that does not exist)", a)
			}
			names = append(names, n)
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return nil, usageErrorf("--levels: policy %q given twice", n)
		}
		seen[n] = true
	}
	return names, nil
}

// runReport builds the report from the server at socket and writes it.
func runReport(e *env, socket, format, out string, levels []string, timeout time.Duration, opts report.OSCALOptions) error {
	src, conn, err := report.Dial(socket)
	if err != nil {
		return serverErrorf("%w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return writeReport(ctx, e, src, format, out, levels, time.Now(), opts)
}

// writeReport builds the report from src and writes it to out.
func writeReport(ctx context.Context, e *env, src report.Source, format, out string, levels []string, now time.Time, opts report.OSCALOptions) error {
	r, err := report.Build(ctx, src, levels, now)
	if err != nil {
		return serverErrorf("%w", err)
	}
	var b bytes.Buffer
	if format == report.FormatOSCAL {
		err = r.WriteOSCAL(&b, opts)
	} else {
		err = r.Write(&b, format)
	}
	if err != nil {
		return err
	}
	return writeOutput(e, out, b.Bytes())
}
