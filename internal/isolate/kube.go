package isolate

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
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
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(n)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion("v1")
	u.SetKind("Node")
	_, err = d.r.Update(ctx, u, metav1.UpdateOptions{})
	return err
}
