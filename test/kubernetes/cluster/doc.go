// Package cluster is TEST-ONLY: it runs a real single-node Kubernetes
// cluster for hwattest's cluster tests and is never part of a product binary.
//
// Start runs, each with its own directory and ports, etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler (Kubernetes v1.33.1 and etcd
// v3.5.21 as test/kubernetes/k8s-bin builds and caches them), a private
// containerd with its CRI plugin on, runc and the bridge CNI plugin from
// /usr/lib/cni, and a kubelet (cgroupfs driver, its own cgroup root, no swap
// check) that registers one node. Certificates and the service-account key
// are made in Go for each cluster; components reach each other over TLS with
// client certificates, except etcd, which serves plain HTTP on 127.0.0.1
// only. There is no kube-proxy (no service ClusterIPs for pods) and no
// cluster DNS.
//
// Images never come from a registry: ImportImage builds an image offline with
// go-containerregistry (internal/containertest.Build) and imports it into
// containerd's k8s.io namespace, so pods use imagePullPolicy: Never. The pod
// sandbox ("pause") image is one of those, built from ./internal/podbin.
//
// Stop (also run at test cleanup) deletes every pod through the API so that
// the kubelet tears down their sandboxes and networks, stops the components,
// kills what is left of containerd's shims and containers, and removes what
// the cluster made on the host: mounts under its directory, its cgroups, its
// CNI bridge, the /var/log/containers links into its directory, and the
// IPv4 forwarding switch the bridge plugin turned on. It reports anything it
// could not remove.
//
// # Requirements
//
// Root, a cgroup file system, containerd and runc (`apt-get install -y
// containerd runc`), the CNI plugins bridge, host-local and loopback in
// /usr/lib/cni (`apt-get install -y containernetworking-plugins`), ip
// (iproute2), a non-loopback IPv4 address for the node, and the Kubernetes
// binaries in the directory named by HWATTEST_K8S_BIN. A missing one fails
// the test when CI=true and skips it otherwise.
package cluster
