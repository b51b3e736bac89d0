package containertest

import (
	"context"
	"net"
	"net/http"
)

// UnixClient is an HTTP client whose every request goes to the unix socket
// (the URL's host is ignored).
func UnixClient(socket string) *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socket)
		},
	}}
}
