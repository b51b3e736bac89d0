// Command hwattest is the operator's tool for hwattest: it shows a machine's
// EK as SPIRE will see it, captures evidence files from a TPM, derives
// reference policies from them, verifies evidence against policies offline
// and reports which node of a SPIRE server meets which policy level. See
// docs/cli.md, or run `hwattest help`.
package main

import (
	"os"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
