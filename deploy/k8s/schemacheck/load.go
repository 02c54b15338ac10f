package schemacheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one manifest document decoded into its official Go type.
type Object struct {
	// Source names the file and the document's place in it.
	Source string
	Kind   string
	// Obj is a pointer to the typed object, such as *appsv1.Deployment.
	Obj  any
	Meta *metav1.ObjectMeta
}

func (o Object) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.Kind, o.Meta.Namespace, o.Meta.Name, o.Source)
}

// newObject returns a new object of the type of apiVersion and kind, or
// nil when this check does not know that kind: every kind used in
// deploy/k8s must be listed here, so an unknown one is an error.
func newObject(apiVersion, kind string) (any, *metav1.ObjectMeta) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		o := &corev1.Namespace{}
		return o, &o.ObjectMeta
	case "v1 ConfigMap":
		o := &corev1.ConfigMap{}
		return o, &o.ObjectMeta
	case "v1 Secret":
		o := &corev1.Secret{}
		return o, &o.ObjectMeta
	case "v1 Service":
		o := &corev1.Service{}
		return o, &o.ObjectMeta
	case "v1 ServiceAccount":
		o := &corev1.ServiceAccount{}
		return o, &o.ObjectMeta
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		return o, &o.ObjectMeta
	case "batch/v1 CronJob":
		o := &batchv1.CronJob{}
		return o, &o.ObjectMeta
	case "networking.k8s.io/v1 NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		return o, &o.ObjectMeta
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		return o, &o.ObjectMeta
	}
	return nil, nil
}

// Decode decodes one YAML document strictly, as the API server does with
// fieldValidation=Strict: a duplicate key, an unknown field, a field name
// in the wrong case or a value of the wrong type is an error.
func Decode(doc []byte, source string) (Object, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", source, err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return Object{}, fmt.Errorf("%s: %w", source, err)
	}
	obj, meta := newObject(tm.APIVersion, tm.Kind)
	if obj == nil {
		return Object{}, fmt.Errorf("%s: unknown apiVersion %q and kind %q", source, tm.APIVersion, tm.Kind)
	}
	strict, err := sigsjson.UnmarshalStrict(j, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %s %s: %w", source, tm.APIVersion, tm.Kind, err)
	}
	if len(strict) > 0 {
		return Object{}, fmt.Errorf("%s: %s %s: %w", source, tm.APIVersion, tm.Kind, errors.Join(strict...))
	}
	return Object{Source: source, Kind: tm.Kind, Obj: obj, Meta: meta}, nil
}

// LoadDir decodes every document of every .yaml and .yml file under dir,
// in the order of the file names.
func LoadDir(dir string) ([]Object, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "schemacheck" {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var objs []Object
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, f)
		r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 1; ; i++ {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", rel, err)
			}
			if isEmpty(doc) {
				continue
			}
			o, err := Decode(doc, fmt.Sprintf("%s#%d", rel, i))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			objs = append(objs, o)
		}
	}
	return objs, errors.Join(errs...)
}

// isEmpty reports whether a document holds only comments and blank lines.
func isEmpty(doc []byte) bool {
	for line := range strings.SplitSeq(string(doc), "\n") {
		if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") && s != "---" {
			return false
		}
	}
	return true
}
