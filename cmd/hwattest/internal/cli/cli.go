package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Exit codes of hwattest.
const (
	// ExitOK: the command did what it was asked, every check and policy
	// passed.
	ExitOK = 0
	// ExitFailed: evidence did not verify, or a policy was not met.
	ExitFailed = 1
	// ExitUsage: a usage or input error: unknown flag, missing argument,
	// unreadable or malformed file, invalid policy.
	ExitUsage = 2
	// ExitTPM: the TPM could not be opened or failed a command.
	ExitTPM = 3
	// ExitServer: SPIRE (the server, or the agent's workload API) could not
	// be reached or refused a call.
	ExitServer = 4
)

// exitError is an error with the exit code it ends the command with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

func failedf(format string, args ...any) error {
	return &exitError{code: ExitFailed, err: fmt.Errorf(format, args...)}
}

func serverErrorf(format string, args ...any) error {
	return &exitError{code: ExitServer, err: fmt.Errorf(format, args...)}
}

func tpmErrorf(format string, args ...any) error {
	return &exitError{code: ExitTPM, err: fmt.Errorf(format, args...)}
}

// silentFailure ends a command with ExitFailed after it has printed why.
var silentFailure = &exitError{code: ExitFailed, err: errors.New("")}

// env is what a command writes to.
type env struct {
	stdout, stderr io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	// usage is the synopsis line after "hwattest".
	usage string
	// help explains the command, printed before the flags.
	help string
	// flags declares the command's flags on fs and returns its run function.
	flags func(fs *flag.FlagSet) func(e *env, args []string) error
}

func commands() []*command {
	return []*command{ekCommand(), ekCAsCommand(), evidenceCommand(), referenceCommand(), verifyCommand(), reportCommand(), provenanceCommand(), claimsCommand()}
}

const overview = `hwattest: the operator's tool for hardware-attested workload identity with SPIRE.

Usage:
  hwattest <command> [flags] [arguments]
  hwattest help <command>

Commands:
%s
Exit codes:
  0  done: every check and every policy passed
  1  evidence did not verify, a policy was not met, or an SVID carries no
     claims (or claims a relying party would refuse)
  2  usage or input error (flags, unreadable or malformed files, invalid policy)
  3  the TPM could not be opened or failed a command
  4  SPIRE could not be reached or refused a call (report: the server;
     claims --socket: the agent's workload API)

Evidence files are NOT live attestations: the capturing tool chose the quote's
nonce and checked credential activation itself at capture time. A SPIRE server
never accepts them; they serve to capture reference values and to check a
machine offline. See docs/cli.md and docs/operations.md.
`

// Run runs hwattest with args (without the program name), writing to stdout
// and stderr, and returns the exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	cmds := commands()
	if len(args) == 0 {
		fmt.Fprintf(stderr, overview, summaries(cmds))
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := find(cmds, args[1]); c != nil {
				printHelp(stdout, c)
				return ExitOK
			}
			fmt.Fprintf(stderr, "hwattest: unknown command %q\n", args[1])
			return ExitUsage
		}
		fmt.Fprintf(stdout, overview, summaries(cmds))
		return ExitOK
	}
	c := find(cmds, name)
	if c == nil {
		fmt.Fprintf(stderr, "hwattest: unknown command %q (commands: %s; see hwattest help)\n", name, names(cmds))
		return ExitUsage
	}
	fs := flag.NewFlagSet("hwattest "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	run := c.flags(fs)
	pos, err := parseInterleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		printHelp(stdout, c)
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "hwattest %s: %v\nusage: hwattest %s (see hwattest %s --help)\n", c.name, err, c.usage, c.name)
		return ExitUsage
	}
	err = run(e, pos)
	if err == nil {
		return ExitOK
	}
	code := ExitFailed
	var xe *exitError
	if errors.As(err, &xe) {
		code = xe.code
	}
	if err != silentFailure {
		fmt.Fprintf(stderr, "hwattest %s: %v\n", c.name, err)
	}
	return code
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, which it returns in order. "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		rest := args
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		// fs.Parse consumed a "--" if the argument before args was one.
		if n := len(rest) - len(args); n > 0 && rest[n-1] == "--" {
			return append(pos, args...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

func names(cmds []*command) string {
	var n []string
	for _, c := range cmds {
		n = append(n, c.name)
	}
	return strings.Join(n, ", ")
}

func summaries(cmds []*command) string {
	var b strings.Builder
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	return b.String()
}

func printHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: hwattest %s\n\n%s\n", c.usage, strings.TrimSpace(c.help))
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.flags(fs)
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) == 0 {
		return
	}
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	fmt.Fprintf(w, "\nFlags:\n")
	for _, f := range flags {
		arg, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		line := "  " + dash + f.Name
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintf(w, "%s\n      %s", line, strings.ReplaceAll(usage, "\n", "\n      "))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nExit codes: 0 ok, 1 verification failed or policy not met, 2 usage or input error, 3 TPM unreachable, 4 SPIRE server unreachable.\n")
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// writeOutput writes b to path ("-" is standard output) through a temporary
// file in the same directory, so that a failed write leaves no half file.
func writeOutput(e *env, path string, b []byte) error {
	if path == "-" {
		_, err := e.stdout.Write(b)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return usageErrorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return usageErrorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return usageErrorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return usageErrorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return usageErrorf("write %s: %w", path, err)
	}
	return nil
}
