package cli

import "io"

// Test hooks: the report without a SPIRE server.
var (
	LevelNames  = levelNames
	WriteReport = writeReport
)

// Env is an env for WriteReport.
func Env(stdout, stderr io.Writer) *env {
	return &env{stdout: stdout, stderr: stderr}
}
