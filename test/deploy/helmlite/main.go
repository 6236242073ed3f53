// helmlite renders a Helm chart the way `helm template` does, for machines
// without helm: Go's text/template with sprig's functions and Helm's own
// (include, toYaml, fromYaml, toJson, required, fail, lookup), values read as
// Helm reads them (YAML to JSON, so numbers are float64), later values files
// coalesced over earlier ones and over values.yaml (null deletes a key), and
// "<no value>" blanked. It does not validate values.schema.json, lint, or know
// the Kubernetes API; test/deploy/helm-render.test.ts uses it only when helm
// is absent, and says so.
//
// Built in GOPATH mode against Debian's packages (golang-go,
// golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v2-dev), which is why
// sprig is imported without its /v3 suffix.
//
// Usage: helmlite [-existing objects.yaml] [-upgrade] <chart dir> <release> <namespace> [values.yaml ...]
// Prints the manifests on stdout and NOTES.txt on stderr; exits 1 with
// "Error: ..." on a template error or a `fail`.
//
// `lookup` answers from -existing, a YAML stream (JSON is YAML) of the objects
// the cluster holds, e.g. the Secret of the previous release; without it the
// cluster is empty, as for `helm template`. -upgrade renders as `helm upgrade`
// does (.Release.IsUpgrade true, IsInstall false, Revision 2).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	yaml2 "gopkg.in/yaml.v2"
)

type files map[string][]byte

func (f files) Get(name string) string { return string(f[name]) }

func toJSONCompatible(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := map[string]interface{}{}
		for k, val := range t {
			m[fmt.Sprint(k)] = toJSONCompatible(val)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = toJSONCompatible(t[i])
		}
		return t
	}
	return v
}

// Like sigs.k8s.io/yaml.Unmarshal into map: YAML -> JSON -> json.Unmarshal (float64 numbers).
func readValues(data []byte) map[string]interface{} {
	var raw interface{}
	if err := yaml2.Unmarshal(data, &raw); err != nil {
		panic(err)
	}
	j, err := json.Marshal(toJSONCompatible(raw))
	if err != nil {
		panic(err)
	}
	out := map[string]interface{}{}
	if err := json.Unmarshal(j, &out); err != nil {
		panic(err)
	}
	return out
}

func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// Like Helm's toYAML: sigs.k8s.io/yaml.Marshal (JSON, then YAML via go-yaml v2).
func toYAML(v interface{}) string {
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var obj interface{}
	if err := yaml2.Unmarshal(j, &obj); err != nil {
		return ""
	}
	out, err := yaml2.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// readObjects reads a YAML stream of Kubernetes objects; a `kind: List` contributes its items.
func readObjects(data []byte) []map[string]interface{} {
	var objects []map[string]interface{}
	decoder := yaml2.NewDecoder(strings.NewReader(string(data)))
	for {
		var raw interface{}
		err := decoder.Decode(&raw)
		if err == io.EOF {
			return objects
		}
		if err != nil {
			panic(err)
		}
		if raw == nil {
			continue
		}
		j, err := json.Marshal(toJSONCompatible(raw))
		if err != nil {
			panic(err)
		}
		object := map[string]interface{}{}
		if err := json.Unmarshal(j, &object); err != nil {
			panic(err)
		}
		if object["kind"] == "List" {
			items, _ := object["items"].([]interface{})
			for _, item := range items {
				if m, ok := item.(map[string]interface{}); ok {
					objects = append(objects, m)
				}
			}
			continue
		}
		objects = append(objects, object)
	}
}

func metadataField(object map[string]interface{}, field string) string {
	metadata, _ := object["metadata"].(map[string]interface{})
	value, _ := metadata[field].(string)
	return value
}

// lookupIn is Helm's lookup over a fixed set of objects: the object named
// `name` (an empty map when there is none), or, with an empty name, a list of
// every object of that kind in `namespace` (every namespace when it is empty).
func lookupIn(objects []map[string]interface{}, apiVersion, kind, namespace, name string) map[string]interface{} {
	var items []interface{}
	for _, object := range objects {
		if object["apiVersion"] != apiVersion || object["kind"] != kind {
			continue
		}
		if namespace != "" && metadataField(object, "namespace") != namespace {
			continue
		}
		if name == "" {
			items = append(items, object)
		} else if metadataField(object, "name") == name {
			return object
		}
	}
	if name == "" {
		return map[string]interface{}{"apiVersion": "v1", "kind": kind + "List", "items": items}
	}
	return map[string]interface{}{}
}

func main() {
	existingFile := flag.String("existing", "", "YAML stream of the objects lookup finds")
	upgrade := flag.Bool("upgrade", false, "render as helm upgrade does")
	flag.Parse()
	args := flag.Args()
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: helmlite [-existing objects.yaml] [-upgrade] <chart dir> <release> <namespace> [values.yaml ...]")
		os.Exit(2)
	}
	var existing []map[string]interface{}
	if *existingFile != "" {
		data, err := ioutil.ReadFile(*existingFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(1)
		}
		existing = readObjects(data)
	}
	revision := 1
	if *upgrade {
		revision = 2
	}
	chartDir, release, namespace := args[0], args[1], args[2]
	chartMeta := map[string]interface{}{}
	chartYaml, _ := ioutil.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	for k, v := range readValues(chartYaml) {
		chartMeta[strings.ToUpper(k[:1])+k[1:]] = v
	}
	name := chartMeta["Name"].(string)
	defaults, _ := ioutil.ReadFile(filepath.Join(chartDir, "values.yaml"))
	values := readValues(defaults)
	for _, file := range args[3:] {
		data, _ := ioutil.ReadFile(file)
		values = coalesce(values, readValues(data))
	}
	allFiles := files{}
	filepath.Walk(filepath.Join(chartDir, "files"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(chartDir, p)
			allFiles[rel], _ = ioutil.ReadFile(p)
		}
		return nil
	})

	var t *template.Template
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = func(s string) map[string]interface{} { return readValues([]byte(s)) }
	funcs["toJson"] = func(v interface{}) string { b, _ := json.Marshal(v); return string(b) }
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	funcs["fromJson"] = func(s string) map[string]interface{} {
		out := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			out["Error"] = err.Error()
		}
		return out
	}
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return lookupIn(existing, apiVersion, kind, namespace, name), nil
	}
	funcs["include"] = func(n string, data interface{}) (string, error) {
		var b strings.Builder
		err := t.ExecuteTemplate(&b, n, data)
		return b.String(), err
	}
	t = template.New("gotpl").Option("missingkey=zero").Funcs(funcs)

	var names []string
	templatesDir := filepath.Join(chartDir, "templates")
	filepath.Walk(templatesDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(chartDir, p)
			tname := name + "/" + rel
			src, _ := ioutil.ReadFile(p)
			if _, err := t.New(tname).Parse(string(src)); err != nil {
				fmt.Fprintln(os.Stderr, "parse error:", err)
				os.Exit(1)
			}
			names = append(names, tname)
		}
		return nil
	})
	sort.Strings(names)
	for _, tname := range names {
		base := filepath.Base(tname)
		if strings.HasPrefix(base, "_") {
			continue
		}
		top := map[string]interface{}{
			"Values":       values,
			"Chart":        chartMeta,
			"Release":      map[string]interface{}{"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": !*upgrade, "IsUpgrade": *upgrade, "Revision": revision},
			"Template":     map[string]interface{}{"Name": tname, "BasePath": name + "/templates"},
			"Files":        allFiles,
			"Capabilities": map[string]interface{}{},
		}
		var b strings.Builder
		if err := t.ExecuteTemplate(&b, tname, top); err != nil {
			fmt.Fprintln(os.Stderr, "Error: execution error:", err)
			os.Exit(1)
		}
		out := strings.ReplaceAll(b.String(), "<no value>", "")
		if base == "NOTES.txt" {
			fmt.Fprintln(os.Stderr, "NOTES:\n"+out)
			continue
		}
		if strings.TrimSpace(out) == "" {
			continue
		}
		fmt.Printf("---\n# Source: %s\n%s\n", tname, out)
	}
}
