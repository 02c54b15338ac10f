// Package schemacheck checks the Kubernetes manifests in deploy/k8s offline.
// It is a module of its own, so that the Kubernetes libraries never enter
// ttpgate's go.mod. Run it with `go test ./...` in this folder.
package schemacheck
