// Package googlelog quiets github.com/google/logger, the process-wide
// logger go-sev-guest and go-tdx-guest write to. A SPIRE plugin's stdout
// carries the go-plugin handshake and its logs go through hclog, so library
// lines must not reach stdout.
//
// google/logger keeps the first Init as its default logger. go-tdx-guest's
// verify package calls Init with os.Stdout from its init function, so in a
// binary that links it this call cannot redirect anything: there hwattest
// avoids the library's only per-call log line instead (pkg/tdxquote always
// passes its trusted root explicitly). Errors google/logger writes to stderr
// whatever the configuration; SPIRE logs a plugin's stderr.
package googlelog

import (
	"io"

	"github.com/google/logger"
)

// Discard makes google/logger's default logger drop info and warning lines,
// when no package has initialised it yet. Call it first in main.
func Discard() {
	logger.Init("hwattest", false, false, io.Discard)
}
