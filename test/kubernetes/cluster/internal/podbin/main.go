// Command podbin is TEST-ONLY: the one static binary in the cluster tests'
// offline images. Without arguments it is the pod sandbox ("pause") process:
// it waits for SIGTERM or SIGINT and reaps children it inherits, as
// Kubernetes' pause does. With "echo WORDS..." it prints the words and the
// pod's hostname on one line and exits 0, a workload that runs to completion.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "echo" {
		host, _ := os.Hostname()
		fmt.Printf("%s (pod %s)\n", strings.Join(os.Args[2:], " "), host)
		return
	}
	if len(os.Args) > 1 {
		fmt.Fprintf(os.Stderr, "podbin: unknown arguments %q (none, or echo WORDS...)\n", os.Args[1:])
		os.Exit(2)
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			return
		}
		// Reap every exited child (a shared PID namespace makes this
		// process the pod's init).
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
