package schemacheck

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psapi "k8s.io/pod-security-admission/api"
	pspolicy "k8s.io/pod-security-admission/policy"
)

// Namespace is where every namespaced object of the deployment lives.
const Namespace = "ttpgate"

// Secrets of each component: a pod may reference only its own.
var ownSecrets = map[string][]string{
	"gateway":   {"ttpgate-gateway-keys", "ttpgate-gateway-store"},
	"processor": {"ttpgate-processor-keys", "ttpgate-processor-store"},
}

// pod is a pod template found in a workload.
type pod struct {
	owner     Object
	component string
	meta      *metav1.ObjectMeta
	spec      *corev1.PodSpec
}

// checker gathers the problems of a set of objects.
type checker struct {
	objs     []Object
	pods     []pod
	secrets  map[string]*corev1.Secret
	configs  map[string]*corev1.ConfigMap
	problems []string
}

func (c *checker) add(o Object, format string, args ...any) {
	c.problems = append(c.problems, o.String()+": "+fmt.Sprintf(format, args...))
}

// Check validates the objects one by one and against each other, and
// returns every problem found.
func Check(objs []Object) []string {
	c := &checker{objs: objs, secrets: map[string]*corev1.Secret{}, configs: map[string]*corev1.ConfigMap{}}
	seen := map[string]Object{}
	for _, o := range objs {
		id := o.Kind + "/" + o.Meta.Namespace + "/" + o.Meta.Name
		if prev, dup := seen[id]; dup {
			c.add(o, "defined twice (also %s)", prev.Source)
		}
		seen[id] = o
		c.checkMeta(o)
		switch v := o.Obj.(type) {
		case *corev1.Secret:
			c.secrets[v.Name] = v
		case *corev1.ConfigMap:
			c.configs[v.Name] = v
		case *appsv1.Deployment:
			c.pods = append(c.pods, pod{o, v.Spec.Template.Labels["app.kubernetes.io/component"], &v.Spec.Template.ObjectMeta, &v.Spec.Template.Spec})
		case *batchv1.CronJob:
			t := &v.Spec.JobTemplate.Spec.Template
			c.pods = append(c.pods, pod{o, t.Labels["app.kubernetes.io/component"], &t.ObjectMeta, &t.Spec})
		}
	}
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *corev1.Namespace:
			c.checkNamespace(o, v)
		case *corev1.Secret:
			c.checkSecret(o, v)
		case *corev1.ConfigMap:
			if len(v.Data) == 0 {
				c.add(o, "no data")
			}
		case *appsv1.Deployment:
			c.checkDeployment(o, v)
		case *batchv1.CronJob:
			c.checkCronJob(o, v)
		case *corev1.Service:
			c.checkService(o, v)
		case *networkingv1.NetworkPolicy:
			c.checkNetworkPolicy(o, v)
		case *policyv1.PodDisruptionBudget:
			c.checkSelector(o, v.Spec.Selector, "spec.selector")
			if v.Spec.MinAvailable == nil && v.Spec.MaxUnavailable == nil {
				c.add(o, "neither minAvailable nor maxUnavailable")
			}
		}
	}
	for _, p := range c.pods {
		c.checkPod(p)
	}
	return c.problems
}

func (c *checker) checkMeta(o Object) {
	m := o.Meta
	var msgs []string
	switch o.Kind {
	case "Namespace", "Service":
		msgs = validation.IsDNS1123Label(m.Name)
	default:
		msgs = validation.IsDNS1123Subdomain(m.Name)
	}
	for _, msg := range msgs {
		c.add(o, "metadata.name: %s", msg)
	}
	switch {
	case o.Kind == "Namespace" && m.Namespace != "":
		c.add(o, "a Namespace has no namespace")
	case o.Kind != "Namespace" && m.Namespace != Namespace:
		c.add(o, "metadata.namespace is %q, want %q", m.Namespace, Namespace)
	}
	for _, err := range metavalidation.ValidateLabels(m.Labels, field.NewPath("metadata", "labels")) {
		c.add(o, "%v", err)
	}
}

func (c *checker) checkNamespace(o Object, ns *corev1.Namespace) {
	if ns.Labels[psapi.EnforceLevelLabel] != string(psapi.LevelRestricted) {
		c.add(o, "label %s must be restricted", psapi.EnforceLevelLabel)
	}
}

// checkSecret holds the Secrets to being templates: placeholders only, so
// that no key is ever committed.
func (c *checker) checkSecret(o Object, s *corev1.Secret) {
	if len(s.Data) > 0 {
		c.add(o, "has data: a template holds placeholders in stringData only")
	}
	if len(s.StringData) == 0 {
		c.add(o, "no stringData")
	}
	for k, v := range s.StringData {
		if !strings.HasPrefix(v, "REPLACE-WITH:") {
			c.add(o, "stringData.%s is not a placeholder (REPLACE-WITH: …)", k)
		}
		for _, secret := range []string{"PRIVATE KEY", "AGE-SECRET-KEY", "BEGIN OPENSSH"} {
			if strings.Contains(v, secret) {
				c.add(o, "stringData.%s holds key material", k)
			}
		}
		for _, msg := range validation.IsConfigMapKey(k) {
			c.add(o, "stringData key %q: %s", k, msg)
		}
	}
}

func (c *checker) checkDeployment(o Object, d *appsv1.Deployment) {
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 1 {
		c.add(o, "spec.replicas must be at least 1")
	}
	c.checkSelector(o, d.Spec.Selector, "spec.selector")
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil && !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		c.add(o, "spec.selector does not match the template's labels")
	}
	if d.Spec.Template.Spec.RestartPolicy != "" && d.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		c.add(o, "a Deployment's pods must have restartPolicy Always")
	}
	for _, ctr := range d.Spec.Template.Spec.Containers {
		if ctr.LivenessProbe == nil || ctr.ReadinessProbe == nil {
			c.add(o, "container %s: liveness and readiness probes are required", ctr.Name)
		}
		for _, p := range []*corev1.Probe{ctr.LivenessProbe, ctr.ReadinessProbe, ctr.StartupProbe} {
			if p != nil && p.HTTPGet != nil && !hasPort(ctr, p.HTTPGet.Port) {
				c.add(o, "container %s: probe port %s is not a port of the container", ctr.Name, p.HTTPGet.Port.String())
			}
		}
	}
	if d.Spec.Template.Labels["app.kubernetes.io/component"] == "gateway" {
		probes := map[string]string{}
		for _, ctr := range d.Spec.Template.Spec.Containers {
			if p := ctr.LivenessProbe; p != nil && p.HTTPGet != nil {
				probes["liveness"] = p.HTTPGet.Path
			}
			if p := ctr.ReadinessProbe; p != nil && p.HTTPGet != nil {
				probes["readiness"] = p.HTTPGet.Path
			}
		}
		if probes["liveness"] != "/healthz" || probes["readiness"] != "/readyz" {
			c.add(o, "the gateway's liveness probe must be /healthz and its readiness probe /readyz, not %v", probes)
		}
	}
}

func (c *checker) checkCronJob(o Object, cj *batchv1.CronJob) {
	if _, err := cron.ParseStandard(cj.Spec.Schedule); err != nil {
		c.add(o, "spec.schedule %q: %v", cj.Spec.Schedule, err)
	}
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			c.add(o, "spec.timeZone %q: %v", *tz, err)
		}
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		c.add(o, "spec.concurrencyPolicy is %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	js := cj.Spec.JobTemplate.Spec
	if rp := js.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever && rp != corev1.RestartPolicyOnFailure {
		c.add(o, "a Job's pods must have restartPolicy Never or OnFailure, not %q", rp)
	}
	if js.ActiveDeadlineSeconds == nil {
		c.add(o, "spec.jobTemplate.spec.activeDeadlineSeconds is required: a run must not hang for ever")
	}
}

// checkSelector checks a label selector and that it selects a pod.
func (c *checker) checkSelector(o Object, sel *metav1.LabelSelector, where string) {
	if sel == nil {
		c.add(o, "%s is required", where)
		return
	}
	for _, err := range metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, field.NewPath(where)) {
		c.add(o, "%v", err)
	}
	if len(c.selected(sel)) == 0 {
		c.add(o, "%s selects no pod of the deployment", where)
	}
}

// selected returns the pod templates that sel matches.
func (c *checker) selected(sel *metav1.LabelSelector) []pod {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil
	}
	var out []pod
	for _, p := range c.pods {
		if s.Matches(labels.Set(p.meta.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

func (c *checker) checkService(o Object, s *corev1.Service) {
	if len(s.Spec.Selector) == 0 {
		c.add(o, "spec.selector is required")
		return
	}
	pods := c.selected(&metav1.LabelSelector{MatchLabels: s.Spec.Selector})
	if len(pods) == 0 {
		c.add(o, "spec.selector selects no pod of the deployment")
	}
	names := map[string]bool{}
	for _, p := range s.Spec.Ports {
		if names[p.Name] {
			c.add(o, "port name %q twice", p.Name)
		}
		names[p.Name] = true
		if msgs := validation.IsValidPortNum(int(p.Port)); len(msgs) > 0 {
			c.add(o, "port %s: %s", p.Name, strings.Join(msgs, "; "))
		}
		for _, pd := range pods {
			if !podHasPort(pd.spec, p.TargetPort) {
				c.add(o, "port %s: targetPort %s is not a port of %s", p.Name, p.TargetPort.String(), pd.owner.Meta.Name)
			}
		}
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer && (p.Name == "admin" || p.TargetPort.String() == "admin") {
			c.add(o, "the admin port must not be on a LoadBalancer Service")
		}
	}
	if s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		c.add(o, "a LoadBalancer Service needs externalTrafficPolicy Local, so the gateway sees clients' addresses")
	}
}

func (c *checker) checkNetworkPolicy(o Object, np *networkingv1.NetworkPolicy) {
	var pods []pod
	if len(np.Spec.PodSelector.MatchLabels) > 0 || len(np.Spec.PodSelector.MatchExpressions) > 0 {
		c.checkSelector(o, &np.Spec.PodSelector, "spec.podSelector")
		pods = c.selected(&np.Spec.PodSelector)
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		c.add(o, "policyTypes must name Ingress and Egress, so that both directions are denied by default")
	}
	checkPeers := func(peers []networkingv1.NetworkPolicyPeer) {
		for _, peer := range peers {
			if b := peer.IPBlock; b != nil {
				cidr, err := netip.ParsePrefix(b.CIDR)
				if err != nil {
					c.add(o, "ipBlock.cidr %q: %v", b.CIDR, err)
					continue
				}
				for _, e := range b.Except {
					ex, err := netip.ParsePrefix(e)
					if err != nil || !cidr.Overlaps(ex) || ex.Bits() < cidr.Bits() {
						c.add(o, "ipBlock.except %q must be a CIDR within %s", e, b.CIDR)
					}
				}
			}
		}
	}
	checkPorts := func(ports []networkingv1.NetworkPolicyPort) {
		for _, p := range ports {
			if p.Port != nil && p.Port.Type == intstr.String {
				for _, pd := range pods {
					if !podHasPort(pd.spec, *p.Port) {
						c.add(o, "port %s is not a port of %s", p.Port.String(), pd.owner.Meta.Name)
					}
				}
			}
		}
	}
	for _, r := range np.Spec.Ingress {
		checkPeers(r.From)
		checkPorts(r.Ports)
	}
	for _, r := range np.Spec.Egress {
		checkPeers(r.To)
		checkPorts(r.Ports)
	}
}

// checkPod checks a pod template: references, the Pod Security Standard
// "restricted" (with the official evaluator), and this deployment's rules.
func (c *checker) checkPod(p pod) {
	o, spec := p.owner, p.spec
	if p.component != "gateway" && p.component != "processor" {
		c.add(o, "pod label app.kubernetes.io/component must be gateway or processor, not %q", p.component)
	}

	eval, err := pspolicy.NewEvaluator(pspolicy.DefaultChecks(), nil)
	if err != nil {
		c.add(o, "pod security evaluator: %v", err)
	} else {
		agg := pspolicy.AggregateCheckResults(eval.EvaluatePod(psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}, p.meta, spec))
		if !agg.Allowed {
			c.add(o, "violates the Pod Security Standard restricted: %s", agg.ForbiddenDetail())
		}
	}

	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		c.add(o, "automountServiceAccountToken must be false: ttpgate does not talk to the API server")
	}
	if sc := spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		c.add(o, "pod securityContext.runAsUser must be set to a non-root user")
	}
	if len(spec.Containers) == 0 {
		c.add(o, "no containers")
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		if _, dup := volumes[v.Name]; dup {
			c.add(o, "volume %q twice", v.Name)
		}
		volumes[v.Name] = v
		for _, msg := range validation.IsDNS1123Label(v.Name) {
			c.add(o, "volume %q: %s", v.Name, msg)
		}
		c.checkVolume(p, v)
	}
	names := map[string]bool{}
	all := append(slices.Clone(spec.InitContainers), spec.Containers...)
	for _, ctr := range all {
		if names[ctr.Name] {
			c.add(o, "container %q twice", ctr.Name)
		}
		names[ctr.Name] = true
		for _, msg := range validation.IsDNS1123Label(ctr.Name) {
			c.add(o, "container %q: %s", ctr.Name, msg)
		}
		c.checkContainer(p, ctr, volumes)
	}
}

func (c *checker) checkVolume(p pod, v corev1.Volume) {
	o := p.owner
	sources := 0
	if s := v.Secret; s != nil {
		sources++
		c.checkSecretRef(p, s.SecretName, keysOf(s.Items), "volume "+v.Name)
		if s.DefaultMode != nil && (*s.DefaultMode < 0 || *s.DefaultMode > 0o777) {
			c.add(o, "volume %s: defaultMode %o is not a file mode", v.Name, *s.DefaultMode)
		}
	}
	if cm := v.ConfigMap; cm != nil {
		sources++
		got, ok := c.configs[cm.Name]
		switch {
		case !ok:
			c.add(o, "volume %s: no ConfigMap %q in the manifests", v.Name, cm.Name)
		default:
			for _, k := range keysOf(cm.Items) {
				if _, ok := got.Data[k]; !ok {
					c.add(o, "volume %s: ConfigMap %s has no key %q", v.Name, cm.Name, k)
				}
			}
		}
	}
	if v.EmptyDir != nil {
		sources++
	}
	if sources != 1 {
		c.add(o, "volume %s: want exactly one source this check knows (secret, configMap, emptyDir), found %d", v.Name, sources)
	}
}

func keysOf(items []corev1.KeyToPath) []string {
	var keys []string
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	return keys
}

// checkSecretRef checks that a pod references a Secret of the manifests,
// with the keys it names, and only a Secret of its own component.
func (c *checker) checkSecretRef(p pod, name string, keys []string, where string) {
	o := p.owner
	s, ok := c.secrets[name]
	if !ok {
		c.add(o, "%s: no Secret %q in the manifests", where, name)
		return
	}
	for _, k := range keys {
		if _, ok := s.StringData[k]; !ok {
			c.add(o, "%s: Secret %s has no key %q", where, name, k)
		}
	}
	if !slices.Contains(ownSecrets[p.component], name) {
		c.add(o, "%s: the %s must not be given Secret %s", where, p.component, name)
	}
}

func (c *checker) checkContainer(p pod, ctr corev1.Container, volumes map[string]corev1.Volume) {
	o := p.owner
	if ctr.Image == "" {
		c.add(o, "container %s: no image", ctr.Name)
	} else if !strings.Contains(ctr.Image, "@sha256:") {
		_, tag, ok := strings.Cut(path.Base(ctr.Image), ":")
		if !ok || tag == "" || tag == "latest" {
			c.add(o, "container %s: image %q must name a version or digest, not latest", ctr.Name, ctr.Image)
		}
	}
	ports := map[string]bool{}
	for _, port := range ctr.Ports {
		if msgs := validation.IsValidPortNum(int(port.ContainerPort)); len(msgs) > 0 {
			c.add(o, "container %s: port %d: %s", ctr.Name, port.ContainerPort, strings.Join(msgs, "; "))
		}
		if port.ContainerPort < 1024 {
			c.add(o, "container %s: port %d needs a capability; use a port above 1023", ctr.Name, port.ContainerPort)
		}
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				c.add(o, "container %s: port name %q: %s", ctr.Name, port.Name, msg)
			}
			if ports[port.Name] {
				c.add(o, "container %s: port name %q twice", ctr.Name, port.Name)
			}
			ports[port.Name] = true
		}
	}
	for _, m := range ctr.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			c.add(o, "container %s: mounts volume %q, which the pod does not have", ctr.Name, m.Name)
		}
		if !path.IsAbs(m.MountPath) {
			c.add(o, "container %s: mountPath %q is not absolute", ctr.Name, m.MountPath)
		}
		if v := volumes[m.Name]; v.Secret != nil && !m.ReadOnly {
			c.add(o, "container %s: secret volume %s must be mounted readOnly", ctr.Name, m.Name)
		}
	}
	for _, e := range ctr.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			r := e.ValueFrom.SecretKeyRef
			c.checkSecretRef(p, r.Name, []string{r.Key}, "container "+ctr.Name+" env "+e.Name)
		}
		if e.Value != "" && (strings.Contains(e.Name, "SECRET") || strings.Contains(e.Name, "KEY") && !strings.Contains(e.Name, "KEY_ID")) {
			c.add(o, "container %s: env %s holds a literal value; take it from a Secret", ctr.Name, e.Name)
		}
	}
	for _, ef := range ctr.EnvFrom {
		if ef.SecretRef != nil {
			c.checkSecretRef(p, ef.SecretRef.Name, nil, "container "+ctr.Name+" envFrom")
		}
	}

	sc := ctr.SecurityContext
	switch {
	case sc == nil:
		c.add(o, "container %s: no securityContext", ctr.Name)
	default:
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			c.add(o, "container %s: readOnlyRootFilesystem must be true", ctr.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			c.add(o, "container %s: allowPrivilegeEscalation must be false", ctr.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			c.add(o, "container %s: capabilities must drop ALL and add none", ctr.Name)
		}
	}

	r := ctr.Resources
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := r.Requests[res]
		lim, okLim := r.Limits[res]
		if !okReq || !okLim {
			c.add(o, "container %s: resources.requests and resources.limits of %s are required", ctr.Name, res)
			continue
		}
		if req.Cmp(lim) > 0 {
			c.add(o, "container %s: %s request %s is above its limit %s", ctr.Name, res, req.String(), lim.String())
		}
	}
}

func hasPort(ctr corev1.Container, port intstr.IntOrString) bool {
	for _, p := range ctr.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

func podHasPort(spec *corev1.PodSpec, port intstr.IntOrString) bool {
	for _, ctr := range spec.Containers {
		if hasPort(ctr, port) {
			return true
		}
	}
	return false
}
