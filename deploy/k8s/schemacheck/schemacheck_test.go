package schemacheck

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestManifests decodes every manifest in deploy/k8s strictly into the
// official Kubernetes types and checks them; it prints how many objects of
// each kind it validated.
func TestManifests(t *testing.T) {
	objs, err := LoadDir("..")
	if err != nil {
		t.Fatalf("decode:\n%v", err)
	}
	if len(objs) == 0 {
		t.Fatal("no manifests found in deploy/k8s")
	}
	for _, p := range Check(objs) {
		t.Error(p)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.Kind]++
	}
	for _, want := range []string{"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "CronJob", "NetworkPolicy"} {
		if kinds[want] == 0 {
			t.Errorf("no %s in deploy/k8s", want)
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		parts = append(parts, fmt.Sprintf("%d %s", kinds[k], k))
	}
	fmt.Printf("schemacheck: %d objects validated (%s)\n", len(objs), strings.Join(parts, ", "))
}

// TestCheckFails shows that each kind of mistake is caught: every case
// changes one valid manifest and must be refused with the given message.
func TestCheckFails(t *testing.T) {
	base, err := LoadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	// The documents of the valid manifests, by kind and name.
	docs := map[string]string{}
	for _, f := range []string{"20-gateway.yaml", "30-processor.yaml", "10-config.yaml", "secrets/secrets-template.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		for doc := range strings.SplitSeq(string(data), "\n---\n") {
			o, err := Decode([]byte(doc), f)
			if err != nil {
				t.Fatal(err)
			}
			docs[o.Kind+"/"+o.Meta.Name] = doc
		}
	}
	tests := []struct {
		name, doc, old, new, want string
	}{
		{"unknown field", "Deployment/ttpgate-gateway", "revisionHistoryLimit: 5", "revisionHistoryLimit: 5\n  replica: 3", `unknown field "spec.replica"`},
		{"field in the wrong case", "Deployment/ttpgate-gateway", "revisionHistoryLimit: 5", "RevisionHistoryLimit: 5", `unknown field "spec.RevisionHistoryLimit"`},
		{"duplicate key", "Deployment/ttpgate-gateway", "revisionHistoryLimit: 5", "revisionHistoryLimit: 5\n  revisionHistoryLimit: 6", `already set`},
		{"wrong type", "Deployment/ttpgate-gateway", "replicas: 2", "replicas: two", `cannot unmarshal`},
		{"bad quantity", "Deployment/ttpgate-gateway", "limits: {cpu: \"2\", memory: 1Gi}", "limits: {cpu: \"2\", memory: 1Gb}", `quantities must match`},
		{"root user", "Deployment/ttpgate-gateway", "runAsUser: 65532", "runAsUser: 0", `restricted`},
		{"writable root", "Deployment/ttpgate-gateway", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", `readOnlyRootFilesystem must be true`},
		{"capability added", "CronJob/ttpgate-processor", `drop: ["ALL"]`, "drop: [\"ALL\"]\n                  add: [\"NET_BIND_SERVICE\"]", `capabilities must drop ALL and add none`},
		{"gateway given the processor's keys", "Deployment/ttpgate-gateway", "secretName: ttpgate-gateway-keys", "secretName: ttpgate-processor-keys", `must not be given Secret ttpgate-processor-keys`},
		{"missing secret key", "Deployment/ttpgate-gateway", "{key: s3.secret, path: s3.secret}", "{key: s3.secrets, path: s3.secret}", `has no key "s3.secrets"`},
		{"readiness not /readyz", "Deployment/ttpgate-gateway", "path: /readyz", "path: /healthz", `readiness probe /readyz`},
		{"probe on a missing port", "Deployment/ttpgate-gateway", "path: /readyz, port: admin", "path: /readyz, port: metrics", `probe port metrics`},
		{"service to a missing port", "Service/ttpgate-gateway", "targetPort: sftp", "targetPort: ssh", `targetPort ssh`},
		{"cluster traffic policy", "Service/ttpgate-gateway", "externalTrafficPolicy: Local", "externalTrafficPolicy: Cluster", `externalTrafficPolicy Local`},
		{"bad schedule", "CronJob/ttpgate-processor", `schedule: "*/15 * * * *"`, `schedule: "*/15 * * *"`, `spec.schedule`},
		{"concurrent runs", "CronJob/ttpgate-processor", "concurrencyPolicy: Forbid", "concurrencyPolicy: Allow", `want Forbid`},
		{"latest image", "CronJob/ttpgate-processor", "ttpgate:1.0.0", "ttpgate:latest", `not latest`},
		{"key in a secret", "Secret/ttpgate-processor-keys", `pseudonym.key: "REPLACE-WITH: keys/pseudonym.key"`, `pseudonym.key: "3f1c9a0d2b4e"`, `not a placeholder`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, ok := docs[tt.doc]
			if !ok {
				t.Fatalf("no document %s", tt.doc)
			}
			if !strings.Contains(doc, tt.old) {
				t.Fatalf("%s does not contain %q", tt.doc, tt.old)
			}
			changed := strings.Replace(doc, tt.old, tt.new, 1)
			var msgs []string
			o, err := Decode([]byte(changed), "changed")
			if err != nil {
				msgs = append(msgs, err.Error())
			} else {
				objs := []Object{o}
				for _, b := range base {
					if b.Kind+"/"+b.Meta.Name != tt.doc {
						objs = append(objs, b)
					}
				}
				msgs = Check(objs)
			}
			if len(msgs) == 0 {
				t.Fatalf("no problem found, want one containing %q", tt.want)
			}
			if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, tt.want) }) {
				t.Errorf("problems:\n%s\nwant one containing %q", strings.Join(msgs, "\n"), tt.want)
			}
		})
	}
}
