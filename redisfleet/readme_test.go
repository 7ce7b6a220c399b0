package redisfleet_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeBlocks returns the code of the fenced blocks of the Markdown file
// at path whose info string is info, with the line of each opening fence.
func readmeBlocks(t *testing.T, path, info string) (codes []string, lines []int) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var cur *strings.Builder
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			codes = append(codes, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		case strings.HasPrefix(line, "```"+info) && strings.TrimSpace(strings.TrimPrefix(line, "```")) == info:
			cur = new(strings.Builder)
			lines = append(lines, n)
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "%s ends inside a code block", path)
	return codes, lines
}

// readmeWrap makes a program of a README fragment: the body of a function
// that has ctx, with a callPartner to submit.
const readmeWrap = `package main

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lazysched/lazysched/redisfleet"
	"github.com/lazysched/lazysched/scheduler"
)

var _ = time.Second

func callPartner(ctx context.Context) (string, error) { return "", ctx.Err() }

func main() { _ = readmeFragment(context.Background()) }

func readmeFragment(ctx context.Context) error {
%s}
`

// The root module's README test vets its ```go blocks from the root
// module, which does not require this one; README.md's blocks for
// redisfleet are fenced "```go redisfleet" and vetted here, from this
// module, where their imports resolve. A block is a fragment: the body of
// a function func(ctx context.Context) error, with callPartner declared.
func TestReadmeRedisfleetBlocksCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: README's Go blocks are not built")
	}
	goCmd, err := exec.LookPath("go")
	require.NoError(t, err, "the go command")
	codes, lines := readmeBlocks(t, filepath.Join("..", "README.md"), "go redisfleet")
	require.NotEmpty(t, codes, "README.md blocks fenced ```go redisfleet")
	for i, code := range codes {
		file := filepath.Join(t.TempDir(), "main.go")
		src := strings.Replace(readmeWrap, "%s", code, 1)
		require.NoError(t, os.WriteFile(file, []byte(src), 0o600))
		out, err := exec.Command(goCmd, "vet", file).CombinedOutput()
		require.NoError(t, err, "go vet of README.md's block at line %d:\n%s\n%s", lines[i], out, src)
	}
}
