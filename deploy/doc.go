// Package deploy holds no code: it is the home of the tests that check the
// deployment files in this folder (systemd units, the Dockerfile, the
// compose file, the AWS policies and the example configurations). The
// Kubernetes manifests are checked by deploy/k8s/schemacheck, a module of
// its own. See docs/operations.md.
package deploy
