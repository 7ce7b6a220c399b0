// Module bench compares lazysched with the worker pools its users would
// otherwise pick. It is a nested module so that the library's go.mod never
// carries the peers (pond, ants, conc).
module github.com/lazysched/lazysched/bench

go 1.26.0

replace github.com/lazysched/lazysched => ../

require (
	github.com/alitto/pond/v2 v2.7.1
	github.com/lazysched/lazysched v0.0.0-00010101000000-000000000000
	github.com/lazysched/lazysched/otel v0.0.0-00010101000000-000000000000
	github.com/panjf2000/ants/v2 v2.12.1
	github.com/sourcegraph/conc v0.3.0
	go.opentelemetry.io/otel/sdk v1.47.0
	go.opentelemetry.io/otel/sdk/metric v1.47.0
	go.opentelemetry.io/otel/trace v1.47.0
	golang.org/x/sync v0.24.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.47.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.uber.org/atomic v1.7.0 // indirect
	go.uber.org/multierr v1.9.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/lazysched/lazysched/otel => ../otel
