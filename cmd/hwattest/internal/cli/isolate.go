package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hwattest/hwattest/internal/isolate"
	"github.com/hwattest/hwattest/internal/spireapi"
)

func isolateCommand() *command {
	return &command{
		name:    "isolate",
		summary: "taint the Kubernetes nodes whose SPIRE agent fails attestation, untaint them when it attests again",
		usage:   "isolate --socket PATH | --server ADDR [--workload-socket ADDR] [--mode report-only|dry-run|enforce] [--require-policy NAME]... [--kubeconfig FILE] [--nodes-configmap NAMESPACE/NAME] [--state-configmap NAMESPACE/NAME] [--listen ADDR --tls-cert FILE --tls-key FILE --token-file FILE] [--once]",
		help: `A controller that reads SPIRE's agents either through the server's admin
socket (--socket: run it in the SPIRE server's pod, examples/kubernetes/isolate)
or over the server's TCP port (--server: run it as a Deployment; it presents
the X509-SVID the SPIRE agent gives it on --workload-socket, whose SPIFFE ID
must be in the server's admin_ids). A node is managed when the ConfigMap of
--nodes-configmap, which the cluster's administrators write, binds its name
to its agent's SPIFFE ID (hwattest ek prints it): not the Node's own
annotations, which its kubelet may edit. A managed node is failed when its agent is not in SPIRE's agent list, is
banned, has an expired SVID, lacks a --require-policy, or was refused (or
lost a required policy) by the node attestor since it last attested: the
attestors post those events to --listen (docs/node-events.md). A failed
node gets --taint (NoExecute by default: its pods are evicted, none land);
a healthy one loses it. A refusal holds until the agent attests again (a
new agent SVID, or an attested event); --state-configmap keeps it across
restarts and between controllers beside several SPIRE servers.

Modes: report-only (the default) logs what it would do; dry-run prints it;
enforce does it. When the SPIRE API cannot be read nothing changes, and
when more than --max-tainted percent of the managed nodes fail nothing is
tainted (that says more about SPIRE than about the nodes).

--once reconciles once, prints each managed node's state and exits:
0 when every managed node is healthy, 1 when one is failed, 4 when SPIRE
or Kubernetes cannot be read.`,
		flags: func(fs *flag.FlagSet) func(*env, []string) error {
			socket := fs.String("socket", "", "the SPIRE server's admin socket `PATH`")
			server := fs.String("server", "", "the SPIRE server's API at `ADDR` (host:port), with an admin SVID")
			workloadSocket := fs.String("workload-socket", "", "with --server: the SPIRE agent's workload API `ADDR` (default $SPIFFE_ENDPOINT_SOCKET)")
			mode := fs.String("mode", string(isolate.ReportOnly), "`MODE`: report-only, dry-run or enforce")
			var required listFlag
			fs.Var(&required, "require-policy", "a policy `NAME` every managed node's agent must satisfy (repeatable)")
			taint := fs.String("taint", isolate.DefaultTaint.ToString(), "the taint of a failed node, `KEY=VALUE:EFFECT`")
			maxTainted := fs.Int("max-tainted", 50, "taint nothing when more than this `PERCENT` of the managed nodes fail")
			kubeconfig := fs.String("kubeconfig", "", "kubeconfig `FILE` (default: in-cluster, then $KUBECONFIG)")
			interval := fs.Duration("interval", 30*time.Second, "reconcile every `DURATION`")
			listen := fs.String("listen", "", "receive node events on `ADDR` (host:port)")
			tlsCert := fs.String("tls-cert", "", "with --listen: the webhook's certificate `FILE` (PEM)")
			tlsKey := fs.String("tls-key", "", "with --listen: its private key `FILE`")
			tokenFile := fs.String("token-file", "", "with --listen: a `FILE` holding the bearer token the attestors send")
			once := fs.Bool("once", false, "reconcile once, print each managed node's state, and exit")
			nodesCM := fs.String("nodes-configmap", "spire/hwattest-isolate-nodes", "the ConfigMap `NAMESPACE/NAME` binding node names to agent SPIFFE IDs")
			state := fs.String("state-configmap", "", "keep the refusals acted on in the ConfigMap `NAMESPACE/NAME` (it must exist), so that a restart or a controller beside another SPIRE server keeps refused nodes isolated")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unexpected argument %q", args[0])
				}
				cfg, err := isolateConfig(*socket, *server, *workloadSocket, *mode, *taint, *maxTainted, *nodesCM, *state, required, e)
				if err != nil {
					return err
				}
				token, err := listenConfig(*listen, *tlsCert, *tlsKey, *tokenFile)
				if err != nil {
					return err
				}
				kube, err := kubeClient(*kubeconfig)
				if err != nil {
					return err
				}
				ns, name, _ := strings.Cut(*nodesCM, "/")
				cfg.Bindings = isolate.NewBindings(kube, ns, name)
				if ns, name, ok := strings.Cut(*state, "/"); ok {
					cfg.Marks = isolate.NewMarks(kube, ns, name)
				}
				api, closeAPI, err := dialServer(*socket, *server, *workloadSocket)
				if err != nil {
					return serverErrorf("%w", err)
				}
				defer closeAPI()
				log := hclog.New(&hclog.LoggerOptions{Name: "isolate", Output: e.stderr, Level: hclog.Info})
				c := isolate.New(cfg, api, isolate.NewNodes(kube), log)
				if *once {
					return isolateOnce(e, c)
				}
				return runIsolate(c, log, *interval, *listen, *tlsCert, *tlsKey, token)
			}
		},
	}
}

func isolateConfig(socket, server, workloadSocket, mode, taint string, maxTainted int, nodesCM, state string, required []string, e *env) (isolate.Config, error) {
	var errs []string
	if (socket == "") == (server == "") {
		errs = append(errs, "give one of --socket PATH and --server ADDR")
	}
	if workloadSocket != "" && server == "" {
		errs = append(errs, "--workload-socket needs --server")
	}
	m := isolate.Mode(mode)
	if m != isolate.ReportOnly && m != isolate.DryRun && m != isolate.Enforce {
		errs = append(errs, fmt.Sprintf("--mode %q: want report-only, dry-run or enforce", mode))
	}
	t, err := parseTaint(taint)
	if err != nil {
		errs = append(errs, err.Error())
	}
	if maxTainted < 1 || maxTainted > 100 {
		errs = append(errs, fmt.Sprintf("--max-tainted %d: want 1 to 100", maxTainted))
	}
	if !isNamespacedName(nodesCM) {
		errs = append(errs, fmt.Sprintf("--nodes-configmap %q: want NAMESPACE/NAME", nodesCM))
	}
	if state != "" && !isNamespacedName(state) {
		errs = append(errs, fmt.Sprintf("--state-configmap %q: want NAMESPACE/NAME", state))
	}
	if len(errs) > 0 {
		return isolate.Config{}, usageErrorf("%s", strings.Join(errs, "; "))
	}
	return isolate.Config{Mode: m, Taint: t, RequiredPolicies: required, MaxTainted: float64(maxTainted) / 100, Out: e.stdout}, nil
}

func isNamespacedName(s string) bool {
	ns, name, ok := strings.Cut(s, "/")
	return ok && ns != "" && name != "" && !strings.Contains(name, "/")
}

// dialServer connects to the SPIRE server's API: its admin socket, or its
// TCP port with the X509-SVID of the agent's workload API.
func dialServer(socket, server, workloadSocket string) (*spireapi.Client, func(), error) {
	if socket != "" {
		api, err := spireapi.Dial(socket)
		if err != nil {
			return nil, nil, err
		}
		return api, func() { api.Close() }, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var opts []workloadapi.X509SourceOption
	if workloadSocket != "" {
		opts = append(opts, workloadapi.WithClientOptions(workloadapi.WithAddr(workloadSocket)))
	}
	source, err := workloadapi.NewX509Source(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("workload API: %w", err)
	}
	api, err := spireapi.DialTLS(server, source)
	if err != nil {
		source.Close()
		return nil, nil, err
	}
	return api, func() { api.Close(); source.Close() }, nil
}

// parseTaint reads KEY=VALUE:EFFECT (VALUE may be empty).
func parseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	key, value, _ := strings.Cut(kv, "=")
	t := corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)}
	switch {
	case !ok || key == "":
		return t, fmt.Errorf("--taint %q: want KEY=VALUE:EFFECT", s)
	case t.Effect != corev1.TaintEffectNoExecute && t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectPreferNoSchedule:
		return t, fmt.Errorf("--taint %q: effect %q: want NoExecute, NoSchedule or PreferNoSchedule", s, effect)
	}
	return t, nil
}

// listenConfig checks the webhook flags and reads the token. Without TLS
// the webhook listens on loopback only.
func listenConfig(listen, cert, key, tokenFile string) (string, error) {
	if listen == "" {
		if cert != "" || key != "" || tokenFile != "" {
			return "", usageErrorf("--tls-cert, --tls-key and --token-file need --listen")
		}
		return "", nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "", usageErrorf("--listen %q: %v", listen, err)
	}
	if (cert == "") != (key == "") {
		return "", usageErrorf("--tls-cert and --tls-key go together")
	}
	if ip := net.ParseIP(host); cert == "" && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", usageErrorf("--listen %s without --tls-cert: plain http only on a loopback address", listen)
	}
	if tokenFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return "", usageErrorf("--token-file: %v", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsAny(token, "\r\n") {
		return "", usageErrorf("--token-file %s: want one line holding the token", tokenFile)
	}
	return token, nil
}

func kubeClient(kubeconfig string) (dynamic.Interface, error) {
	var cfg *rest.Config
	var err error
	switch {
	case kubeconfig != "":
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	default:
		if cfg, err = rest.InClusterConfig(); errors.Is(err, rest.ErrNotInCluster) {
			cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
		}
	}
	if err != nil {
		return nil, usageErrorf("kubernetes configuration: %v", err)
	}
	kube, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, usageErrorf("kubernetes client: %v", err)
	}
	return kube, nil
}

func isolateOnce(e *env, c *isolate.Controller) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ds, err := c.Reconcile(ctx)
	if ds == nil && err != nil {
		return serverErrorf("%w", err)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tAGENT\tSTATE\tTAINTED\tREASON")
	failed := false
	for _, d := range ds {
		state := "healthy"
		if d.Failed {
			state, failed = "failed", true
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", d.Node, d.AgentID, state, d.Tainted, d.Reason)
	}
	w.Flush()
	if err != nil {
		return serverErrorf("%w", err)
	}
	if failed {
		return silentFailure
	}
	return nil
}

func runIsolate(c *isolate.Controller, log hclog.Logger, interval time.Duration, listen, cert, key, token string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kick := make(chan struct{}, 1)
	if listen != "" {
		srv := &http.Server{
			Addr: listen,
			Handler: c.Handler(token, func() {
				select {
				case kick <- struct{}{}:
				default:
				}
			}),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
		}
		go func() {
			var err error
			if cert != "" {
				err = srv.ListenAndServeTLS(cert, key)
			} else {
				err = srv.ListenAndServe()
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("Event webhook stopped", "error", err)
				stop()
			}
		}()
		defer srv.Close()
		log.Info("Receiving node events", "listen", listen, "tls", cert != "")
	}
	c.Run(ctx, interval, kick)
	return nil
}
