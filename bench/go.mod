// Module bench compares lazysched with the worker pools its users would
// otherwise pick. It is a nested module so that the library's go.mod never
// carries the peers (pond, ants, conc).
module github.com/lazysched/lazysched/bench

go 1.26.0

replace github.com/lazysched/lazysched => ../

require (
	github.com/alitto/pond/v2 v2.7.1
	github.com/lazysched/lazysched v0.0.0-00010101000000-000000000000
	github.com/panjf2000/ants/v2 v2.12.1
	github.com/sourcegraph/conc v0.3.0
	golang.org/x/sync v0.24.0
)

require (
	go.uber.org/atomic v1.7.0 // indirect
	go.uber.org/multierr v1.9.0 // indirect
)
