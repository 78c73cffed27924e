// Command gitops-health tells what GitOps tools make of o365-controller objects, using their own
// libraries rather than our reading of their documentation:
//
//   - kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status, what Flux and kpt wait on):
//     status.Compute of each object;
//   - Argo CD: the Lua health checks shipped in the chart (resource.customizations.health.*),
//     run with gopher-lua, the interpreter Argo CD embeds, with the object as the global `obj`.
//
// It reads a Kubernetes List (`kubectl get -o json` of several objects, or the e2e tests' own
// dump of live objects) on standard input and prints one JSON line per object:
//
//	{"kind":"Tenant","namespace":"ns","name":"contoso","kstatus":"Current","kstatusMessage":"…",
//	 "argocd":"Healthy","argocdMessage":"…"}
//
// Usage: gitops-health -argocd-config charts/o365-controller/argocd/health-checks.yaml < list.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// keyPrefix is how argocd-cm names a health check: resource.customizations.health.<group>_<kind>.
const keyPrefix = "resource.customizations.health."

type result struct {
	Kind           string `json:"kind"`
	Namespace      string `json:"namespace"`
	Name           string `json:"name"`
	Generation     int64  `json:"generation"`
	KStatus        string `json:"kstatus"`
	KStatusMessage string `json:"kstatusMessage"`
	ArgoCD         string `json:"argocd"`
	ArgoCDMessage  string `json:"argocdMessage"`
}

func main() {
	configPath := flag.String("argocd-config", "", "the argocd-cm ConfigMap (YAML) holding the health checks")
	flag.Parse()
	if err := run(*configPath, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "gitops-health: %v\n", err)
		os.Exit(1)
	}
}

func run(configPath string, in io.Reader, out io.Writer) error {
	checks, err := loadChecks(configPath)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("reading standard input: %w", err)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("standard input is not a JSON List: %w", err)
	}
	enc := json.NewEncoder(out)
	for _, raw := range list.Items {
		// The unstructured decoder keeps integers as int64, as kstatus expects.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("an item is not a Kubernetes object: %w", err)
		}
		item := u.Object
		res, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("kstatus of %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		gvk := u.GroupVersionKind()
		key := keyPrefix + gvk.Group + "_" + gvk.Kind
		script, ok := checks[key]
		if !ok {
			return fmt.Errorf("no Argo CD health check %q in %s", key, configPath)
		}
		health, message, err := argoHealth(script, item)
		if err != nil {
			return fmt.Errorf("Argo CD health of %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		if err := enc.Encode(result{
			Kind:           u.GetKind(),
			Namespace:      u.GetNamespace(),
			Name:           u.GetName(),
			Generation:     u.GetGeneration(),
			KStatus:        res.Status.String(),
			KStatusMessage: res.Message,
			ArgoCD:         health,
			ArgoCDMessage:  message,
		}); err != nil {
			return err
		}
	}
	return nil
}

// loadChecks reads the health-check scripts of an argocd-cm ConfigMap.
func loadChecks(path string) (map[string]string, error) {
	if path == "" {
		return nil, fmt.Errorf("-argocd-config is required")
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cm struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(text, &cm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cm.Kind != "ConfigMap" {
		return nil, fmt.Errorf("%s: kind is %q, want ConfigMap", path, cm.Kind)
	}
	checks := map[string]string{}
	for k, v := range cm.Data {
		if strings.HasPrefix(k, keyPrefix) {
			checks[k] = v
		}
	}
	if len(checks) == 0 {
		return nil, fmt.Errorf("%s has no %s* key", path, keyPrefix)
	}
	return checks, nil
}

// argoHealth runs a health check as Argo CD does: a fresh state with the base, table, string
// and math libraries, the object as the global `obj`, and the returned table's `status` and
// `message`.
func argoHealth(script string, obj map[string]interface{}) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	st, ok := ret.RawGetString("status").(lua.LString)
	if !ok {
		return "", "", fmt.Errorf("the returned table has no string `status`")
	}
	switch string(st) {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
	default:
		return "", "", fmt.Errorf("status %q is not an Argo CD health status", st)
	}
	msg := ""
	if m, ok := ret.RawGetString("message").(lua.LString); ok {
		msg = string(m)
	}
	return string(st), msg, nil
}

// toLua converts decoded JSON to Lua values as Argo CD does: objects and arrays become tables
// (arrays 1-based), numbers LNumber, null nil.
func toLua(l *lua.LState, v interface{}) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []interface{}:
		t := l.NewTable()
		for _, e := range v {
			t.Append(toLua(l, e))
		}
		return t
	case map[string]interface{}:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	default:
		return lua.LString(fmt.Sprint(v))
	}
}
