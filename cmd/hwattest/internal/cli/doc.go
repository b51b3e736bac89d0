// Package cli is the hwattest command line: the subcommands ek, evidence,
// reference, verify and report, their flags, help texts and exit codes. It
// runs in process (Run), so that its tests drive it against swtpm, the
// simulator and SPIRE without building a binary. docs/cli.md documents it for
// operators.
package cli
