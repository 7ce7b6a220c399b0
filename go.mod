module github.com/lazysched/lazysched

go 1.26.0

require (
	github.com/alitto/pond/v2 v2.7.1
	github.com/benbjohnson/clock v1.3.5
	github.com/filecoin-project/go-clock v0.1.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.24.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
