// Command podbin is TEST-ONLY: the one static binary in the cluster tests'
// offline images. What it does depends on its name or first argument:
//
//	podbin                      the pod sandbox ("pause") process: waits for
//	                            SIGTERM or SIGINT, reaping children it
//	                            inherits, as Kubernetes' pause does
//	podbin echo WORDS...        prints the words and the pod's hostname, exits 0
//	cp FILE... DIR              (installed as /bin/cp) copies files into DIR,
//	                            executable: the plugin image's init container
//	podbin svid ADDR TIMEOUT    asks the SPIFFE Workload API at ADDR for an
//	                            X509-SVID until one comes or TIMEOUT passes;
//	                            prints "ok <SPIFFE ID>" and exits 0, or prints
//	                            "error <last error>" and exits 1
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

func main() {
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) == "cp" {
		args = append([]string{"cp"}, args...)
	}
	if len(args) == 0 {
		pause()
		return
	}
	var err error
	switch args[0] {
	case "echo":
		host, _ := os.Hostname()
		fmt.Printf("%s (pod %s)\n", strings.Join(args[1:], " "), host)
	case "cp":
		err = copyFiles(args[1:])
	case "svid":
		err = fetchSVID(args[1:])
	default:
		err = fmt.Errorf("unknown command %q (none, echo, cp, svid)", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "podbin:", err)
		os.Exit(1)
	}
}

func pause() {
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

func copyFiles(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("cp: need FILE... DIR")
	}
	dir := args[len(args)-1]
	for _, src := range args[:len(args)-1] {
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		out, err := os.OpenFile(filepath.Join(dir, filepath.Base(src)), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
		if err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func fetchSVID(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("svid: need ADDR TIMEOUT")
	}
	timeout, err := time.ParseDuration(args[1])
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		svid, err := workloadapi.FetchX509SVID(ctx, workloadapi.WithAddr(args[0]))
		cancel()
		if err == nil {
			fmt.Println("ok", svid.ID)
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " "))
			os.Exit(1)
		}
		time.Sleep(time.Second)
	}
}
