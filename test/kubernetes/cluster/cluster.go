package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/containertest"
	"github.com/hwattest/hwattest/internal/prereq"
)

// DebugEnv, when "1", makes containerd log at debug level (with the shims'
// and runc's errors) and the kubelet at verbosity 4.
const DebugEnv = "HWATTEST_K8S_DEBUG"

func logLevel() string {
	if os.Getenv(DebugEnv) == "1" {
		return "debug"
	}
	return "info"
}

// BinEnv names the directory holding kube-apiserver, kubelet,
// kube-controller-manager, kube-scheduler, kubectl and etcd (what
// test/kubernetes/k8s-bin prints; make test-k8s sets it).
const BinEnv = "HWATTEST_K8S_BIN"

// CNIDir is where the Debian package containernetworking-plugins installs
// the CNI plugins.
const CNIDir = "/usr/lib/cni"

const (
	// NodeName is the name the kubelet registers its node under.
	NodeName = "hwattest-node"
	// PauseImage is the pod sandbox image, imported at start.
	PauseImage = "hwattest.test/pause:1"
	// ServiceCIDR is the range of service ClusterIPs (not routed: there is
	// no kube-proxy).
	ServiceCIDR = "10.96.0.0/16"
	// serviceIP is the API server's ClusterIP, the first of ServiceCIDR.
	serviceIP = "10.96.0.1"
	// controlPlaneTimeout bounds the wait for one component to be healthy.
	controlPlaneTimeout = 90 * time.Second
	// nodeReadyTimeout bounds the wait for the node to become Ready.
	nodeReadyTimeout = 3 * time.Minute
	// drainTimeout bounds the wait for the kubelet to stop every pod at Stop.
	drainTimeout = 90 * time.Second
)

// kubeletSysctls are the kernel settings the kubelet (its container
// manager) or the bridge CNI plugin change on the host; Stop puts back what
// they were before the cluster started.
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes", "net/ipv4/ip_forward",
}

// Cluster is a running single-node cluster.
type Cluster struct {
	// Dir holds every component's configuration, data, logs and sockets.
	Dir string
	// NodeIP is the node's address, where the API server and the kubelet
	// serve.
	NodeIP net.IP
	// Kubeconfig is an administrator's kubeconfig (system:masters).
	Kubeconfig string
	// Server is the API server's URL.
	Server string
	// ContainerdSocket is the containerd API's socket (its CRI too).
	ContainerdSocket string
	// CgroupRoot is the kubelet's cgroup root; pods are under
	// CgroupRoot/kubepods.
	CgroupRoot string
	// Bridge is the CNI bridge's interface name.
	Bridge string
	// APIServerPort is the API server's port on NodeIP.
	APIServerPort int
	// KubeletPort is the kubelet's API port, on every address of the host
	// (127.0.0.1 too, where SPIRE's k8s workload attestor looks for it).
	KubeletPort int

	bin        string
	pki        *pki
	etcd       *containertest.Daemon
	apiserver  *containertest.Daemon
	controller *containertest.Daemon
	scheduler  *containertest.Daemon
	containerd *containertest.Daemon
	kubelet    *containertest.Daemon
	sysctls    map[string][]byte
	logDirMade bool
	stopped    bool
}

// Start runs a cluster for the test and stops it at cleanup. It returns
// once the node is Ready and the default service account exists.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	bin := requirements(tb)
	dir, err := os.MkdirTemp("", "hwk8s-") // short: unix socket paths
	if err != nil {
		tb.Fatal(err)
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	c := &Cluster{
		Dir:              dir,
		ContainerdSocket: filepath.Join(dir, "containerd.sock"),
		CgroupRoot:       "/hwk8s-" + hex.EncodeToString(id),
		Bridge:           "hwk8s" + hex.EncodeToString(id),
		Kubeconfig:       filepath.Join(dir, "admin.kubeconfig"),
		bin:              bin,
		sysctls:          map[string][]byte{},
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Log(c.Diagnostics())
		}
		if err := c.Stop(); err != nil {
			tb.Errorf("cluster teardown: %v", err)
		}
	})
	if err := c.start(tb); err != nil {
		tb.Fatalf("start cluster: %v", err)
	}
	return c
}

// requirements checks what the cluster needs and returns the binaries'
// directory.
func requirements(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv(BinEnv)
	if bin == "" {
		// Not a missing prerequisite: `make test` does not run the
		// cluster tests yet (see the Makefile's test-k8s), so they skip
		// even in CI. Once BinEnv is set, everything else they need is
		// required in CI.
		tb.Skipf("%s is not set: the cluster tests run with `make test-k8s` (or `export %s=$(test/kubernetes/k8s-bin)`)", BinEnv, BinEnv)
	}
	if os.Geteuid() != 0 {
		prereq.Missing(tb, "a Kubernetes node needs root")
	}
	for _, b := range []string{"kube-apiserver", "kubelet", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			prereq.Missing(tb, "%v (run test/kubernetes/k8s-bin)", err)
		}
	}
	for _, c := range []string{"containerd", "ctr", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(c); err != nil {
			prereq.Missing(tb, "%s not found (apt-get install -y containerd runc)", c)
		}
	}
	if _, err := exec.LookPath("ip"); err != nil {
		prereq.Missing(tb, "ip not found (apt-get install -y iproute2)")
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(CNIDir, p)); err != nil {
			prereq.Missing(tb, "CNI plugin %s not found in %s (apt-get install -y containernetworking-plugins)", p, CNIDir)
		}
	}
	if len(cgroupHierarchies()) == 0 {
		prereq.Missing(tb, "no cgroup file system under %s", cgroupFS)
	}
	return bin
}

// ports are the TCP ports of one cluster's components.
type ports struct {
	etcdClient, etcdPeer, apiserver, controller, scheduler, kubelet, kubeletHealthz int
}

func (c *Cluster) start(tb testing.TB) error {
	ip, err := nodeIP()
	if err != nil {
		return err
	}
	c.NodeIP = ip
	var p ports
	for _, f := range []struct {
		port *int
		ip   string
	}{{&p.etcdClient, "127.0.0.1"}, {&p.etcdPeer, "127.0.0.1"}, {&p.apiserver, ip.String()},
		{&p.controller, "127.0.0.1"}, {&p.scheduler, "127.0.0.1"}, {&p.kubelet, ""}, {&p.kubeletHealthz, "127.0.0.1"}} {
		if *f.port, err = freePort(f.ip); err != nil {
			return err
		}
	}
	c.APIServerPort, c.KubeletPort = p.apiserver, p.kubelet
	c.Server = "https://" + net.JoinHostPort(ip.String(), strconv.Itoa(p.apiserver))
	if err := c.makePKI(); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	for name, cn := range map[string]string{
		"admin": "admin", "controller-manager": "controller-manager", "scheduler": "scheduler", "kubelet": "kubelet",
	} {
		if err := c.writeKubeconfig(name+".kubeconfig", cn); err != nil {
			return err
		}
	}
	for _, s := range kubeletSysctls {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", s)); err == nil {
			c.sysctls[s] = b
		}
	}
	if err := c.startControlPlane(p); err != nil {
		return err
	}
	if err := c.startContainerd(); err != nil {
		return err
	}
	pause := c.PodBinary(tb)
	c.ImportImage(tb, PauseImage, ImageOptions{
		Files:      map[string][]byte{"/pause": pause},
		Executable: []string{"/pause"},
		Entrypoint: []string{"/pause"},
	})
	if err := c.startKubelet(p); err != nil {
		return err
	}
	return nil
}

func (c *Cluster) makePKI() error {
	p, err := newPKI(filepath.Join(c.Dir, "pki"))
	if err != nil {
		return err
	}
	c.pki = p
	loopback := net.ParseIP("127.0.0.1")
	specs := []certSpec{
		{name: "apiserver", commonName: "kube-apiserver", server: true,
			dnsNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
			ips:      []net.IP{loopback, c.NodeIP, net.ParseIP(serviceIP)}},
		// The API server's client certificate toward the kubelet
		// (logs, exec); system:masters passes the kubelet's webhook
		// authorization without an extra role binding.
		{name: "apiserver-kubelet-client", commonName: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}},
		{name: "admin", commonName: "hwattest-admin", orgs: []string{"system:masters"}},
		// Bootstrap RBAC grants these user names their components' roles.
		{name: "controller-manager", commonName: "system:kube-controller-manager"},
		{name: "scheduler", commonName: "system:kube-scheduler"},
		// The Node authorizer and NodeRestriction know a kubelet by this
		// name and group.
		{name: "kubelet", commonName: "system:node:" + NodeName, orgs: []string{"system:nodes"}},
		{name: "kubelet-serving", commonName: NodeName, server: true, dnsNames: []string{NodeName}, ips: []net.IP{c.NodeIP, loopback}},
		// Controller-manager and scheduler serve their health checks
		// on 127.0.0.1 with this certificate.
		{name: "loopback-serving", commonName: "localhost", server: true, dnsNames: []string{"localhost"}, ips: []net.IP{loopback}},
	}
	for _, s := range specs {
		if err := p.issue(s); err != nil {
			return err
		}
	}
	return p.serviceAccountKey()
}

// writeKubeconfig writes a kubeconfig for the API server with the client
// certificate pki/cert.{crt,key}.
func (c *Cluster) writeKubeconfig(file, cert string) error {
	ca, err := c.pki.pemFile("ca.crt")
	if err != nil {
		return err
	}
	crt, err := c.pki.pemFile(cert + ".crt")
	if err != nil {
		return err
	}
	key, err := c.pki.pemFile(cert + ".key")
	if err != nil {
		return err
	}
	b64 := base64.StdEncoding.EncodeToString
	// JSON is YAML: kubeconfig files may be either.
	kc := map[string]any{
		"apiVersion": "v1",
		"kind":       "Config",
		"clusters": []any{map[string]any{"name": "hwattest", "cluster": map[string]any{
			"server": c.Server, "certificate-authority-data": b64(ca)}}},
		"users": []any{map[string]any{"name": cert, "user": map[string]any{
			"client-certificate-data": b64(crt), "client-key-data": b64(key)}}},
		"contexts":        []any{map[string]any{"name": "hwattest", "context": map[string]any{"cluster": "hwattest", "user": cert}}},
		"current-context": "hwattest",
	}
	b, err := json.MarshalIndent(kc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, file), b, 0o600)
}

func (c *Cluster) startControlPlane(p ports) error {
	var err error
	etcdClient := "http://127.0.0.1:" + strconv.Itoa(p.etcdClient)
	etcdPeer := "http://127.0.0.1:" + strconv.Itoa(p.etcdPeer)
	// Plain HTTP on loopback only; no fsync: the data is thrown away.
	c.etcd, err = startDaemon(c.Dir, "etcd", c.path("etcd"),
		"--name=hwattest", "--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdClient, "--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer, "--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=hwattest="+etcdPeer, "--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return err
	}
	if err := c.waitHTTP(c.etcd, etcdClient+"/health", nil); err != nil {
		return err
	}
	pk := c.pki.path
	c.apiserver, err = startDaemon(c.Dir, "kube-apiserver", c.path("kube-apiserver"),
		"--etcd-servers="+etcdClient,
		"--bind-address="+c.NodeIP.String(), "--advertise-address="+c.NodeIP.String(),
		"--secure-port="+strconv.Itoa(p.apiserver), "--cert-dir="+filepath.Join(c.Dir, "apiserver-certs"),
		"--tls-cert-file="+pk("apiserver.crt"), "--tls-private-key-file="+pk("apiserver.key"),
		"--client-ca-file="+pk("ca.crt"),
		"--kubelet-client-certificate="+pk("apiserver-kubelet-client.crt"),
		"--kubelet-client-key="+pk("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority="+pk("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pk("sa.pub"), "--service-account-signing-key-file="+pk("sa.key"),
		"--service-cluster-ip-range="+ServiceCIDR,
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true", "--profiling=false")
	if err != nil {
		return err
	}
	if err := c.waitAPI(c.apiserver, "/readyz"); err != nil {
		return err
	}
	common := func(name, kubeconfig string, port int) []string {
		kc := filepath.Join(c.Dir, kubeconfig)
		return []string{
			"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
			"--tls-cert-file=" + pk("loopback-serving.crt"), "--tls-private-key-file=" + pk("loopback-serving.key"),
			"--leader-elect=false", "--profiling=false",
		}
	}
	c.controller, err = startDaemon(c.Dir, "kube-controller-manager", c.path("kube-controller-manager"),
		append(common("kube-controller-manager", "controller-manager.kubeconfig", p.controller),
			"--service-account-private-key-file="+pk("sa.key"), "--root-ca-file="+pk("ca.crt"),
			"--use-service-account-credentials=true", "--cluster-name=hwattest",
			"--cluster-signing-cert-file="+pk("ca.crt"), "--cluster-signing-key-file="+pk("ca.key"))...)
	if err != nil {
		return err
	}
	c.scheduler, err = startDaemon(c.Dir, "kube-scheduler", c.path("kube-scheduler"),
		common("kube-scheduler", "scheduler.kubeconfig", p.scheduler)...)
	if err != nil {
		return err
	}
	tlsCA, err := c.caPool()
	if err != nil {
		return err
	}
	if err := c.waitHTTP(c.controller, "https://127.0.0.1:"+strconv.Itoa(p.controller)+"/healthz", tlsCA); err != nil {
		return err
	}
	return c.waitHTTP(c.scheduler, "https://127.0.0.1:"+strconv.Itoa(p.scheduler)+"/healthz", tlsCA)
}

func (c *Cluster) startContainerd() error {
	cniConf := filepath.Join(c.Dir, "cni", "net.d")
	if err := os.MkdirAll(cniConf, 0o755); err != nil {
		return err
	}
	subnet, err := podSubnet()
	if err != nil {
		return err
	}
	// One bridge per cluster; no IP masquerading (no iptables rules to
	// leave behind): pods reach the node, not the outside.
	conflist := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "hwattest",
		"plugins": []any{map[string]any{
			"type": "bridge", "bridge": c.Bridge, "isGateway": true, "ipMasq": false, "hairpinMode": true,
			"ipam": map[string]any{
				"type": "host-local", "dataDir": filepath.Join(c.Dir, "cni", "ipam"),
				"ranges": []any{[]any{map[string]any{"subnet": subnet}}},
				"routes": []any{map[string]any{"dst": "0.0.0.0/0"}},
			},
		}},
	}
	b, err := json.MarshalIndent(conflist, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cniConf, "10-hwattest.conflist"), b, 0o644); err != nil {
		return err
	}
	cd := filepath.Join(c.Dir, "containerd")
	config := fmt.Sprintf(`version = 2
root  = %q
state = %q

[grpc]
  address = %q

[debug]
  level = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  # Without CAP_SYS_RESOURCE (some CI sandboxes drop it) runc cannot lower a
  # container's oom_score_adj below containerd's own (the kubelet asks -998
  # for sandboxes): clamp instead of failing every pod.
  restrict_oom_score_adj = true
  # Network namespaces under the state directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
    max_conf_num = 1
`, filepath.Join(cd, "root"), filepath.Join(cd, "state"), c.ContainerdSocket, logLevel(), filepath.Join(cd, "opt"),
		PauseImage, filepath.Join(cd, "runc"), CNIDir, cniConf)
	path := filepath.Join(c.Dir, "containerd.toml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return err
	}
	c.containerd, err = startDaemon(c.Dir, "containerd", "containerd", "--config", path)
	if err != nil {
		return err
	}
	err = poll(controlPlaneTimeout, func() error {
		if c.containerd.Exited() {
			return errors.New("exited")
		}
		_, err := c.ctr("version")
		return err
	})
	if err != nil {
		return fmt.Errorf("containerd not serving: %w\n%s", err, c.containerd.LogTail())
	}
	return nil
}

func (c *Cluster) startKubelet(p ports) error {
	if _, err := os.Stat(containerLogsDir); errors.Is(err, os.ErrNotExist) {
		c.logDirMade = true
	}
	if err := makeCgroup(c.CgroupRoot); err != nil {
		return fmt.Errorf("cgroup root: %w", err)
	}
	pk := c.pki.path
	config := map[string]any{
		"apiVersion":         "kubelet.config.k8s.io/v1beta1",
		"kind":               "KubeletConfiguration",
		"address":            "0.0.0.0",
		"port":               p.kubelet,
		"readOnlyPort":       0,
		"healthzBindAddress": "127.0.0.1",
		"healthzPort":        p.kubeletHealthz,
		"tlsCertFile":        pk("kubelet-serving.crt"),
		"tlsPrivateKeyFile":  pk("kubelet-serving.key"),
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": false},
			"webhook":   map[string]any{"enabled": true},
			"x509":      map[string]any{"clientCAFile": pk("ca.crt")},
		},
		"authorization":            map[string]any{"mode": "Webhook"},
		"cgroupDriver":             "cgroupfs",
		"cgroupRoot":               c.CgroupRoot,
		"failSwapOn":               false,
		"containerRuntimeEndpoint": "unix://" + c.ContainerdSocket,
		"podLogsDir":               filepath.Join(c.Dir, "pod-logs"),
		"makeIPTablesUtilChains":   false,
		// Imported images cannot be pulled again: never collect them,
		// and never evict for a disk that a CI machine may have filled.
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
		"evictionHard": map[string]string{
			"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%",
		},
		"registerNode": true,
	}
	b, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(c.Dir, "kubelet.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	c.kubelet, err = startDaemon(c.Dir, "kubelet", c.path("kubelet"),
		"--config="+path, "--kubeconfig="+filepath.Join(c.Dir, "kubelet.kubeconfig"),
		"--root-dir="+filepath.Join(c.Dir, "kubelet"), "--cert-dir="+filepath.Join(c.Dir, "kubelet", "pki"),
		"--hostname-override="+NodeName, "--node-ip="+c.NodeIP.String(), "--v="+map[string]string{"debug": "4", "info": "1"}[logLevel()])
	if err != nil {
		return err
	}
	err = poll(nodeReadyTimeout, func() error {
		if c.kubelet.Exited() {
			return errors.New("kubelet exited")
		}
		out, err := c.kubectl(nil, "get", "node", NodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "True" {
			return fmt.Errorf("node %s not Ready (%q)", NodeName, out)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w\n==== kubelet log ====\n%s", err, c.kubelet.LogTail())
	}
	// Pods need their namespace's default service account, which the
	// controller-manager creates.
	return poll(controlPlaneTimeout, func() error {
		_, err := c.kubectl(nil, "get", "serviceaccount", "default", "-n", "default")
		return err
	})
}

// podSubnet picks a /24 for pods in 10.244.0.0/16 that no route on the host
// uses.
func podSubnet() (string, error) {
	routes, _ := os.ReadFile("/proc/net/route")
	for range 32 {
		var b [1]byte
		_, _ = rand.Read(b[:])
		// /proc/net/route prints destinations in host byte order
		// (little-endian on the machines these tests run on).
		dest := fmt.Sprintf("00%02XF40A", b[0])
		if !bytes.Contains(routes, []byte(dest)) {
			return fmt.Sprintf("10.244.%d.0/24", b[0]), nil
		}
	}
	return "", errors.New("no free /24 in 10.244.0.0/16")
}

// path is the path of one of the Kubernetes binaries.
func (c *Cluster) path(bin string) string { return filepath.Join(c.bin, bin) }

// kubectl runs kubectl as the administrator with stdin (if not nil).
func (c *Cluster) kubectl(stdin []byte, args ...string) (string, error) {
	args = append([]string{"--kubeconfig=" + c.Kubeconfig, "--cache-dir=" + filepath.Join(c.Dir, "kubectl-cache")}, args...)
	if stdin == nil {
		return containertest.Run(c.path("kubectl"), args...)
	}
	return containertest.RunInput(stdin, c.path("kubectl"), args...)
}

// Kubectl runs kubectl as the cluster's administrator and returns its
// output, failing the test on error.
func (c *Cluster) Kubectl(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := c.kubectl(nil, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TryKubectl runs kubectl as the cluster's administrator and returns its
// output and error (which quotes kubectl's standard error).
func (c *Cluster) TryKubectl(args ...string) (string, error) {
	return c.kubectl(nil, args...)
}

// Apply applies manifests (YAML or JSON) with kubectl apply -f -.
func (c *Cluster) Apply(tb testing.TB, manifests []byte) string {
	tb.Helper()
	out, err := c.kubectl(manifests, "apply", "-f", "-")
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// ApplyKustomization applies the kustomization in dir (kubectl apply -k).
func (c *Cluster) ApplyKustomization(tb testing.TB, dir string) string {
	tb.Helper()
	out, err := c.kubectl(nil, "apply", "-k", dir)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// ctr runs ctr against the cluster's containerd in the namespace the CRI
// uses (k8s.io).
func (c *Cluster) ctr(args ...string) (string, error) {
	return containertest.Run("ctr", append([]string{"--address", c.ContainerdSocket, "--namespace", "k8s.io"}, args...)...)
}

// Diagnostics returns what a failed test should show: pods, events and the
// end of every component's log.
func (c *Cluster) Diagnostics() string {
	var b strings.Builder
	if c.apiserver != nil && !c.apiserver.Exited() {
		for _, args := range [][]string{
			{"get", "nodes,pods", "-A", "-o", "wide"},
			{"get", "events", "-A", "--sort-by=.lastTimestamp"},
		} {
			out, err := c.kubectl(nil, args...)
			fmt.Fprintf(&b, "==== kubectl %s ====\n%s%v\n", strings.Join(args, " "), out, errOrEmpty(err))
		}
	}
	for _, d := range []*containertest.Daemon{c.etcd, c.apiserver, c.controller, c.scheduler, c.containerd, c.kubelet} {
		if d != nil {
			fmt.Fprintf(&b, "==== %s log (%s) ====\n%s\n", d.Name, d.Log, d.LogTail())
		}
	}
	return b.String()
}

func errOrEmpty(err error) any {
	if err == nil {
		return ""
	}
	return err
}

// Stop deletes every pod (the kubelet stops their containers and tears
// down their sandboxes and networks), stops every component, and removes
// what the cluster left on the host. It returns what it could not remove;
// calling it again does nothing.
func (c *Cluster) Stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	var errs []error
	// Nothing may recreate pods while they are deleted.
	c.controller.Stop()
	c.scheduler.Stop()
	if c.kubelet != nil && !c.kubelet.Exited() && !c.apiserver.Exited() {
		if _, err := c.kubectl(nil, "delete", "pods", "--all", "--all-namespaces", "--grace-period=1",
			"--timeout="+drainTimeout.String()); err != nil {
			errs = append(errs, fmt.Errorf("delete pods: %w", err))
		}
	}
	c.kubelet.Stop()
	c.containerd.Stop()
	// The shims outlive containerd; they name its socket.
	for _, pid := range processesNaming(c.ContainerdSocket) {
		_ = killWait(pid)
	}
	c.apiserver.Stop()
	c.etcd.Stop()
	if left := removeCgroups(c.CgroupRoot); len(left) > 0 {
		errs = append(errs, fmt.Errorf("cgroups left: %s", strings.Join(left, " ")))
	}
	if left := unmountUnder(c.Dir); len(left) > 0 {
		errs = append(errs, fmt.Errorf("mounts left: %s", strings.Join(left, " ")))
	}
	if linkExists(c.Bridge) {
		if _, err := containertest.Run("ip", "link", "delete", c.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	removeLogLinks(c.Dir, c.logDirMade)
	for s, v := range c.sysctls {
		if cur, err := os.ReadFile(filepath.Join("/proc/sys", s)); err == nil && !bytes.Equal(cur, v) {
			if err := os.WriteFile(filepath.Join("/proc/sys", s), v, 0o644); err != nil {
				errs = append(errs, fmt.Errorf("restore %s: %w", s, err))
			}
		}
	}
	if pids := processesNaming(c.Dir); len(pids) > 0 {
		errs = append(errs, fmt.Errorf("processes left: %v", pids))
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Leftovers lists what a stopped cluster left on the host: mounts under its
// directory, its cgroups, its bridge, processes naming its directory, links
// into it in /var/log/containers, and kernel settings not put back.
func (c *Cluster) Leftovers() []string {
	var left []string
	left = append(left, mountsUnder(c.Dir)...)
	left = append(left, cgroupDirs(c.CgroupRoot)...)
	if linkExists(c.Bridge) {
		left = append(left, "link "+c.Bridge)
	}
	for _, pid := range processesNaming(c.Dir) {
		left = append(left, "process "+strconv.Itoa(pid))
	}
	entries, _ := os.ReadDir(containerLogsDir)
	for _, e := range entries {
		p := filepath.Join(containerLogsDir, e.Name())
		if t, err := os.Readlink(p); err == nil && strings.HasPrefix(t, c.Dir+"/") {
			left = append(left, p)
		}
	}
	for s, v := range c.sysctls {
		if cur, err := os.ReadFile(filepath.Join("/proc/sys", s)); err == nil && !bytes.Equal(cur, v) {
			left = append(left, fmt.Sprintf("sysctl %s = %s (was %s)", s, bytes.TrimSpace(cur), bytes.TrimSpace(v)))
		}
	}
	if _, err := os.Stat(c.Dir); err == nil {
		left = append(left, c.Dir)
	}
	return left
}
