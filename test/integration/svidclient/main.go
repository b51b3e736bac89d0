// Command svidclient is the workload of the integration tests: it asks the
// SPIRE agent's workload API for an X509-SVID again and again and writes the
// latest outcome to a file, "ok <SPIFFE ID>" or "error <message>", until it
// is stopped; with an SVID, it also writes the SVID's leaf certificate (PEM)
// to svid.pem in the same directory. It is built statically (CGO_ENABLED=0) and runs both on the
// host and as the entrypoint of the test images.
//
//	svidclient -socket unix:///spire/workload.sock -out /out/status
package main

import (
	"context"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "svidclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	socket := flag.String("socket", "unix:///spire/workload.sock", "workload API address")
	out := flag.String("out", "/out/status", "file the latest outcome is written to")
	every := flag.Duration("every", 500*time.Millisecond, "time between attempts")
	flag.Parse()
	for {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		svid, err := workloadapi.FetchX509SVID(fctx, workloadapi.WithAddr(*socket))
		cancel()
		line := ""
		if err != nil {
			line = "error " + strings.ReplaceAll(err.Error(), "\n", " ")
		} else {
			line = "ok " + svid.ID.String()
			leaf := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: svid.Certificates[0].Raw})
			if err := writeAtomic(filepath.Join(filepath.Dir(*out), "svid.pem"), string(leaf)); err != nil {
				return err
			}
		}
		if err := writeAtomic(*out, line+"\n"); err != nil {
			return err
		}
		time.Sleep(*every)
	}
}

// writeAtomic replaces path's contents in one rename, so that a reader
// never sees half a line.
func writeAtomic(path, s string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".status-")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(s); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
