package isolate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// Nodes is the part of the Kubernetes API the controller uses.
type Nodes interface {
	List(ctx context.Context) ([]corev1.Node, error)
	Get(ctx context.Context, name string) (*corev1.Node, error)
	Update(ctx context.Context, n *corev1.Node) error
}

var nodesResource = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// NewNodes reads and updates nodes through client-go's dynamic client. The
// typed clientset would do the same, but its scheme registers every API
// group of Kubernetes and doubles the size of the hwattest binary for one
// resource.
func NewNodes(client dynamic.Interface) Nodes { return dynamicNodes{client.Resource(nodesResource)} }

type dynamicNodes struct {
	r dynamic.NamespaceableResourceInterface
}

func (d dynamicNodes) List(ctx context.Context) ([]corev1.Node, error) {
	list, err := d.r.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]corev1.Node, len(list.Items))
	for i := range list.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &out[i]); err != nil {
			return nil, fmt.Errorf("node %s: %w", list.Items[i].GetName(), err)
		}
	}
	return out, nil
}

func (d dynamicNodes) Get(ctx context.Context, name string) (*corev1.Node, error) {
	u, err := d.r.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var n corev1.Node
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &n); err != nil {
		return nil, fmt.Errorf("node %s: %w", name, err)
	}
	return &n, nil
}

func (d dynamicNodes) Update(ctx context.Context, n *corev1.Node) error {
	return update(ctx, d.r, n, "Node")
}

// update writes obj, a core v1 object of kind, through r.
func update(ctx context.Context, r dynamic.ResourceInterface, obj any, kind string) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("v1")
	u.SetKind(kind)
	_, err = r.Update(ctx, u, metav1.UpdateOptions{})
	return err
}

// Mark is a refusal the controller acted on: the node stays failed while
// its agent still holds the SVID it had when refused (Serial) and no
// attested event newer than At has come. A successful attestation gives
// the agent a new SVID, so a new serial ends the mark wherever it is read.
type Mark struct {
	AgentID string    `json:"agent_id"`
	Serial  string    `json:"serial"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
}

// Marks keeps the controller's marks (by node name) across restarts and
// across controllers beside several SPIRE servers.
type Marks interface {
	// Load returns the marks; an error means they cannot be read.
	Load(ctx context.Context) (map[string]Mark, error)
	// Store sets (a non-nil mark) or deletes (nil) the marks of the named
	// nodes, leaving the others as they are.
	Store(ctx context.Context, changes map[string]*Mark) error
}

// Bounds of the marks ConfigMap's contents.
const (
	maxMarkSize   = 4 << 10
	maxMarkReason = 512
)

var configMapsResource = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// NewMarks keeps the marks in the ConfigMap namespace/name, one key per
// node (a node name is a valid key), each value a Mark as JSON. The
// ConfigMap must exist (the manifests create it empty). It is the
// controller's own, in its namespace: a Node's annotations would not do,
// since a node's kubelet may edit its own Node's metadata, and the node is
// the party being judged.
func NewMarks(client dynamic.Interface, namespace, name string) Marks {
	return configMapMarks{newConfigMap(client, namespace, name)}
}

// configMap is one ConfigMap the controller reads (and may update).
type configMap struct {
	r           dynamic.ResourceInterface
	name, short string // namespace/name, name
}

func newConfigMap(client dynamic.Interface, namespace, name string) configMap {
	return configMap{r: client.Resource(configMapsResource).Namespace(namespace), name: namespace + "/" + name, short: name}
}

type configMapMarks struct{ configMap }

func (m configMap) get(ctx context.Context) (*corev1.ConfigMap, error) {
	u, err := m.r.Get(ctx, m.short, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("isolate: ConfigMap %s: %w", m.name, err)
	}
	var cm corev1.ConfigMap
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cm); err != nil {
		return nil, fmt.Errorf("isolate: ConfigMap %s: %w", m.name, err)
	}
	return &cm, nil
}

func (m configMapMarks) Load(ctx context.Context) (map[string]Mark, error) {
	cm, err := m.get(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Mark, len(cm.Data))
	for node, v := range cm.Data {
		var mk Mark
		// A value this controller did not write is no mark; the ConfigMap
		// is writable only by it and the cluster's administrators.
		if len(v) > maxMarkSize || json.Unmarshal([]byte(v), &mk) != nil || mk.AgentID == "" || mk.Serial == "" {
			continue
		}
		out[node] = mk
	}
	return out, nil
}

func (m configMapMarks) Store(ctx context.Context, changes map[string]*Mark) error {
	if len(changes) == 0 {
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := m.get(ctx)
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		for node, mk := range changes {
			if mk == nil {
				delete(cm.Data, node)
				continue
			}
			c := *mk
			if len(c.Reason) > maxMarkReason {
				c.Reason = c.Reason[:maxMarkReason]
			}
			b, err := json.Marshal(c)
			if err != nil {
				return err
			}
			cm.Data[node] = string(b)
		}
		if err := update(ctx, m.r, cm, "ConfigMap"); err != nil {
			return fmt.Errorf("isolate: ConfigMap %s: %w", m.name, err)
		}
		return nil
	})
}

// Bindings says which SPIRE agent each managed node's is.
type Bindings interface {
	// Load returns node name -> the agent's SPIFFE ID; an error means they
	// cannot be read.
	Load(ctx context.Context) (map[string]string, error)
}

// maxBinding bounds an agent ID read from the bindings.
const maxBinding = 2048

// NewBindings reads the bindings from the ConfigMap namespace/name, which
// the cluster's administrators write (data: node name -> agent SPIFFE ID).
// Not from the Node object: a node's kubelet may edit its own Node's
// annotations, and the labels it may not edit (node-restriction.kubernetes.io/)
// hold 63 characters, too few for an agent ID. A node able to name its
// agent could name none, and escape, or a healthy node's.
func NewBindings(client dynamic.Interface, namespace, name string) Bindings {
	return configMapBindings{newConfigMap(client, namespace, name)}
}

type configMapBindings struct{ configMap }

func (b configMapBindings) Load(ctx context.Context) (map[string]string, error) {
	cm, err := b.get(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(cm.Data))
	for node, id := range cm.Data {
		if len(id) > maxBinding {
			id = id[:maxBinding]
		}
		out[node] = strings.TrimSpace(id)
	}
	return out, nil
}
