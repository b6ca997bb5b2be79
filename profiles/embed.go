// Package profiles is the text of armorer's profile library: one profile
// per service (profiles/NAME/NAME) and the abstractions armorer owns for
// them (profiles/abstractions/), embedded so that installing one needs no
// network. Only profile text is embedded: the training logs and learn
// output under each testdata/ and the Kubernetes configurations under
// each k8s/ stay in the repository. Package library reads FS.
package profiles

import "embed"

// FS holds NAME/NAME for every service of the library (and, when there
// are any, abstractions/...). A new profile directory is added to this
// list; TestEmbedsEveryProfile fails until it is.
//
//go:embed nginx/nginx postgresql/postgresql redis/redis go/go node/node python/python abstractions
var FS embed.FS
