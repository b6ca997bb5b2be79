// Package monitor counts AppArmor events and exposes them as Prometheus
// metrics, as a node_exporter textfile, and as a bounded list of recent
// denials for people.
//
// The counters only grow for the life of the process. Labels are bounded:
// profile, operation, class, outcome and mode, never a path, PID or comm;
// past MaxProfiles distinct profiles, the profile label becomes "other".
//
// Feed events with (*Monitor).Observe; serve Handler(); or write the
// registry to a textfile with WriteTextfile. Collectors read the state at
// scrape time, one collector per concern (denials.go, profiles.go, sources.go).
package monitor
