package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// socketChecked is a runtime whose unix socket is looked at before each
// request: a socket that does not exist (the runtime is not running, or
// not installed) fails at once, naming it, instead of leaving a gRPC client
// waiting for a connection until the request's timeout (containerd's client
// waits for its socket to appear). Then a workload whose container no
// runtime can describe gets an Unavailable refusal in milliseconds, not a
// Workload API fetch that times out on the client.
type socketChecked struct {
	runtime
	socket string
}

// errSocketMissing is why a runtime whose socket does not exist did not
// answer.
var errSocketMissing = errors.New("socket does not exist")

// Inspect implements runtime.
func (r socketChecked) Inspect(ctx context.Context, id string) (containerInfo, error) {
	fi, err := os.Stat(r.socket)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return containerInfo{}, fmt.Errorf("%w: %s (is the runtime running?)", errSocketMissing, r.socket)
	case err != nil:
		return containerInfo{}, fmt.Errorf("socket %s: %w", r.socket, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return containerInfo{}, fmt.Errorf("%s is not a unix socket", r.socket)
	}
	return r.runtime.Inspect(ctx, id)
}
