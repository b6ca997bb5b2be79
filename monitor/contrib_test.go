package monitor

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

// The shipped alert rules and dashboard must only use metrics the monitor
// exports: a renamed metric would silently break them.
func TestContribUsesExportedMetrics(t *testing.T) {
	mfs := everyMetric(t)
	exported := map[string]bool{}
	for _, mf := range mfs {
		exported[mf.GetName()] = true
	}
	name := regexp.MustCompile(`armorer_[a-z_]+`)
	for _, f := range []string{"../contrib/prometheus/armorer-alerts.yml", "../contrib/grafana/armorer-apparmor.json"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if f[len(f)-5:] == ".json" && !json.Valid(data) {
			t.Errorf("%s is not valid JSON", f)
		}
		used := name.FindAllString(string(data), -1)
		if len(used) == 0 {
			t.Errorf("%s uses no armorer metric", f)
		}
		for _, u := range used {
			if !exported[u] {
				t.Errorf("%s uses %s, which the monitor does not export", f, u)
			}
		}
	}
}
