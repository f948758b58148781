// Package deploy_test checks the deployment files without Docker or a cluster: the Dockerfile with
// BuildKit's own linter (the rules of `docker build --check`), the compose file with compose-go's
// loader (the compose-spec schema, as `docker compose config` does), and the Kubernetes manifests
// by strict decoding into the k8s.io/api types plus the cross-references kubectl would only find
// at run time. It is a module of its own, so that the service does not carry these libraries;
// .ci/run runs it.
package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"
	yamlv3 "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

func TestDockerfileLintsCleanAndBuildsAStaticNonRootImage(t *testing.T) {
	t.Parallel()
	dt, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	src := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", dt)
	src.Definition = &llb.Definition{}
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
		SourceMap: src, MetaResolver: offlineImages{}})
	require.NoError(t, err)
	require.Nil(t, res.Error, "Dockerfile does not parse")
	for _, w := range res.Warnings {
		t.Errorf("docker build --check: %s: %s (line %d)", w.RuleName, w.Detail, w.Location.Ranges[0].Start.Line)
	}

	ast, err := parser.Parse(bytes.NewReader(dt))
	require.NoError(t, err)
	stages, _, err := instructions.Parse(ast.AST, nil)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(stages), 2, "multi-stage")
	final := stages[len(stages)-1]
	require.Equal(t, "gcr.io/distroless/static-debian12:nonroot", final.BaseName)
	var user string
	for _, c := range final.Commands {
		if u, ok := c.(*instructions.UserCommand); ok {
			user = u.User
		}
	}
	require.NotEmpty(t, user)
	require.NotContains(t, []string{"root", "0", "0:0", "root:root"}, user)
	require.Contains(t, string(dt), "CGO_ENABLED=0", "a static binary")

	// Every path the build copies is let through the Dockerfile's own ignore file.
	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	require.NoError(t, err)
	for _, dir := range []string{"go.mod", "go.sum", "api/", "billing/", "cmd/", "gateway/", "jobs/", "migrations/"} {
		require.Contains(t, string(ignore), "!"+dir+"\n")
	}
}

func TestComposeFileLoadsWithTheSimulatorOrRealEGWSettings(t *testing.T) {
	t.Parallel()
	documented := documentedVariables(t)
	for _, envFile := range []string{"", "egw.env.example"} {
		opts, err := cli.NewProjectOptions([]string{"docker-compose.yml"},
			cli.WithWorkingDirectory("."), cli.WithEnv([]string{"RECUR_EGW_ENV_FILE=" + envFile}))
		require.NoError(t, err)
		p, err := cli.ProjectFromOptions(context.Background(), opts)
		require.NoError(t, err, "env file %q", envFile)

		pg, err := p.GetService("postgres")
		require.NoError(t, err)
		require.Equal(t, "postgres:15", pg.Image)
		migrate, err := p.GetService("migrate")
		require.NoError(t, err)
		require.Equal(t, types.ShellCommand{"migrate", "up"}, migrate.Command)
		require.Equal(t, types.ServiceConditionHealthy, migrate.DependsOn["postgres"].Condition)
		sim, err := p.GetService("egwsim")
		require.NoError(t, err)
		require.Equal(t, types.ShellCommand{"egwsim", "--addr", "0.0.0.0:8090", "--public-url", "http://localhost:8090",
			"--callback-url", "http://api:8080/v1/egw/callbacks"}, sim.Command)

		for name, mode := range map[string]string{"api": "api", "worker": "worker"} {
			s, err := p.GetService(name)
			require.NoError(t, err)
			require.Equal(t, types.ShellCommand{"serve", "--mode", mode}, s.Command)
			require.Equal(t, types.ServiceConditionCompletedSuccessfully, s.DependsOn["migrate"].Condition)
			require.NotNil(t, s.Environment["DATABASE_URL"])
			require.Contains(t, s.Environment, "RECUR_EGW_BASE_URL", "env file %q", envFile)
			require.Equal(t, "http://localhost:8080", *s.Environment["RECUR_PUBLIC_URL"])
			require.Equal(t, "recur:local", s.Image)
			for v := range s.Environment {
				require.Contains(t, documented, v, "service %s sets a variable that recur does not read", name)
			}
		}
		if envFile == "" {
			api, _ := p.GetService("api")
			require.Equal(t, "http://egwsim:8090", *api.Environment["RECUR_EGW_BASE_URL"])
		}
	}
}

func TestKubernetesManifestsAreValidAndConsistent(t *testing.T) {
	t.Parallel()
	documented := documentedVariables(t)
	var kust struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Labels     []map[string]any `json:"labels"`
		Resources  []string         `json:"resources"`
		Images     []map[string]any `json:"images"`
	}
	b, err := os.ReadFile("k8s/kustomization.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(b, &kust))
	require.Equal(t, "Kustomization", kust.Kind)
	files, err := filepath.Glob("k8s/*.yaml")
	require.NoError(t, err)
	for _, f := range files {
		base := filepath.Base(f)
		if base != "kustomization.yaml" && base != "secret.example.yaml" {
			require.Contains(t, kust.Resources, base, "every manifest is applied by the kustomization")
		}
	}

	var (
		deployments = map[string]*appsv1.Deployment{}
		services    []*corev1.Service
		jobs        []*batchv1.Job
		configMaps  = map[string]*corev1.ConfigMap{}
		secrets     = map[string]*corev1.Secret{}
	)
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		for _, doc := range yamlDocuments(t, f) {
			var meta struct{ APIVersion, Kind string }
			require.NoError(t, yaml.Unmarshal(doc, &meta), f)
			var obj interface{ GetName() string }
			switch meta.APIVersion + " " + meta.Kind {
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "batch/v1 Job":
				obj = &batchv1.Job{}
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Secret":
				obj = &corev1.Secret{}
			default:
				t.Fatalf("%s: unexpected %s %s", f, meta.APIVersion, meta.Kind)
			}
			require.NoError(t, yaml.UnmarshalStrict(doc, obj), "%s: %s", f, meta.Kind)
			require.NotEmpty(t, obj.GetName(), f)
			switch o := obj.(type) {
			case *appsv1.Deployment:
				deployments[o.Name] = o
			case *corev1.Service:
				services = append(services, o)
			case *batchv1.Job:
				jobs = append(jobs, o)
			case *corev1.ConfigMap:
				configMaps[o.Name] = o
			case *corev1.Secret:
				secrets[o.Name] = o
			}
		}
	}
	require.Len(t, deployments, 2)
	require.Len(t, jobs, 1)
	require.Len(t, services, 1)

	checkPod := func(what string, spec corev1.PodSpec, probes bool) {
		require.Len(t, spec.Containers, 1, what)
		c := spec.Containers[0]
		require.Equal(t, "recur", c.Image, "%s: the image is set by the kustomization", what)
		require.True(t, *spec.SecurityContext.RunAsNonRoot, what)
		require.False(t, *c.SecurityContext.AllowPrivilegeEscalation, what)
		require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem, what)
		for _, r := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
			require.False(t, r.Cpu().IsZero(), "%s: cpu request and limit", what)
			require.False(t, r.Memory().IsZero(), "%s: memory request and limit", what)
		}
		if probes {
			require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path, what)
			require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path, what)
			for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
				require.True(t, slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.HTTPGet.Port.String() }),
					"%s: probe port %s", what, p.HTTPGet.Port.String())
			}
		}
		for _, e := range c.EnvFrom {
			require.Contains(t, configMaps, e.ConfigMapRef.Name, what)
			for k := range configMaps[e.ConfigMapRef.Name].Data {
				require.Contains(t, documented, k, "%s: ConfigMap key", what)
			}
		}
		names := map[string]bool{}
		for _, e := range c.Env {
			names[e.Name] = true
			if e.Name != "GOMEMLIMIT" {
				require.Contains(t, documented, e.Name, what)
			}
			if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
				s := secrets[ref.SecretKeyRef.Name]
				require.NotNil(t, s, "%s: secret %s", what, ref.SecretKeyRef.Name)
				require.Contains(t, s.StringData, ref.SecretKeyRef.Key, what)
			}
		}
		require.True(t, names["DATABASE_URL"], "%s: DATABASE_URL from the Secret", what)
	}
	for name, mode := range map[string]string{"recur-api": "api", "recur-worker": "worker"} {
		d := deployments[name]
		require.NotNil(t, d, name)
		sel, err := metav1LabelSelector(d)
		require.NoError(t, err)
		require.True(t, sel.Matches(labels.Set(d.Spec.Template.Labels)), "%s: selector matches its pods", name)
		checkPod(name, d.Spec.Template.Spec, true)
		c := d.Spec.Template.Spec.Containers[0]
		require.Equal(t, []string{"serve"}, c.Args)
		require.Contains(t, c.Env, corev1.EnvVar{Name: "RECUR_MODE", Value: mode})
		require.True(t, slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "RECUR_EGW_CLIENT_SECRET" && e.ValueFrom != nil }),
			"%s: the EGW client secret comes from the Secret", name)
	}
	require.True(t, labels.SelectorFromSet(services[0].Spec.Selector).Matches(labels.Set(deployments["recur-api"].Spec.Template.Labels)),
		"the Service selects the API pods")
	require.False(t, labels.SelectorFromSet(services[0].Spec.Selector).Matches(labels.Set(deployments["recur-worker"].Spec.Template.Labels)),
		"the Service does not select workers")
	checkPod("recur-migrate", jobs[0].Spec.Template.Spec, false)
	require.Equal(t, []string{"migrate", "up"}, jobs[0].Spec.Template.Spec.Containers[0].Args)
}

// offlineImages answers BuildKit's questions about base images with an empty Linux image, so that
// linting never goes to a registry.
type offlineImages struct{}

func (offlineImages) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return ref, digest.FromString(ref), []byte(`{"architecture":"amd64","os":"linux","config":{}}`), nil
}

// metav1LabelSelector turns a Deployment's selector into a labels.Selector.
func metav1LabelSelector(d *appsv1.Deployment) (labels.Selector, error) {
	if len(d.Spec.Selector.MatchExpressions) > 0 {
		return nil, errors.New("match expressions are not used here")
	}
	return labels.SelectorFromSet(d.Spec.Selector.MatchLabels), nil
}

// yamlDocuments splits a YAML file into its documents.
func yamlDocuments(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec := yamlv3.NewDecoder(f)
	var docs [][]byte
	for {
		var node yamlv3.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err, path)
		b, err := yamlv3.Marshal(&node)
		require.NoError(t, err)
		docs = append(docs, b)
	}
}

// documentedVariables returns the environment variables that the README's configuration table
// documents (recur reads exactly those), so that a misspelt one in a deployment file fails here.
func documentedVariables(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	vars := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.SplitN(line, "|", 3)[1]
		for _, m := range regexp.MustCompile("`((?:DATABASE|RECUR)_[A-Z_]+)`").FindAllStringSubmatch(cell, -1) {
			vars[m[1]] = true
		}
	}
	require.Contains(t, vars, "RECUR_MODE")
	return vars
}
