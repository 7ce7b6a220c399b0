package lazysched_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A README block is one fenced code block of README.md.
type readmeBlock struct {
	lang string
	line int    // of the opening fence, 1-based
	code string // the lines between the fences
	// decls is the Go of a "<!-- readme-test: ... -->" comment right above
	// the block: declarations a fragment needs (the names it uses that it
	// does not declare).
	decls string
	// output is the text block that follows a program block after a line
	// "It prints:": what the program must print.
	output *string
}

// TestReadmeGoBlocksCompile checks every ```go block of README.md with go vet
// (which type-checks it as the compiler does). A complete program
// (package main) is vetted as it is, and run if README shows what it
// prints. Any other block is a fragment: it is vetted as the body of a
// function func(ctx context.Context, s *scheduler.Scheduler) error, with
// the declarations of the readme-test comment above it. The files are
// vetted from this module's root, so that the lazysched imports resolve
// to this checkout.
func TestReadmeGoBlocksCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: README's Go blocks are not built")
	}
	goCmd, err := exec.LookPath("go") // go test puts its GOROOT/bin first on PATH
	require.NoError(t, err, "the go command")
	blocks := readmeBlocks(t, "README.md")
	var checked int
	for _, b := range blocks {
		if b.lang != "go" {
			continue
		}
		checked++
		t.Run(fmt.Sprintf("line%d", b.line), func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "main.go")
			src := b.code
			if !strings.HasPrefix(strings.TrimSpace(b.code), "package main") {
				src = wrapFragment(b)
			}
			require.NoError(t, os.WriteFile(file, []byte(src), 0o600))
			out, err := exec.Command(goCmd, "vet", file).CombinedOutput()
			require.NoError(t, err, "go vet of README.md's block at line %d:\n%s\n%s", b.line, out, numbered(src))
			if b.output == nil {
				return
			}
			cmd := exec.Command(goCmd, "run", file)
			var stdout strings.Builder
			cmd.Stdout = &stdout
			cmd.Stderr = &stdout
			require.NoError(t, cmd.Run(), "go run of README.md's program at line %d:\n%s", b.line, stdout.String())
			assert.Equal(t, *b.output, stdout.String(), "what README.md's program at line %d prints", b.line)
		})
	}
	assert.GreaterOrEqual(t, checked, 2, "Go blocks found in README.md")
}

// wrapFragment makes a program of a fragment: its block is the body of a
// function that has ctx and s, with every package a README fragment may
// use imported.
func wrapFragment(b readmeBlock) string {
	body := strings.TrimRight(b.code, "\n")
	lines := strings.Split(body, "\n")
	if !strings.HasPrefix(strings.TrimSpace(lines[len(lines)-1]), "return") {
		body += "\nreturn nil"
	}
	return `package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Every import is used, whatever the fragment uses.
var (
	_ = context.Background
	_ = errors.New
	_ = fmt.Sprint
	_ = time.Second
	_ = factory.Of
	_ = lazytask.WithName
	_ = scheduler.New
)

` + b.decls + `

func main() {}

func readmeFragment(ctx context.Context, s *scheduler.Scheduler) error {
` + body + `
}
`
}

// readmeBlocks returns the fenced code blocks of the Markdown file at path.
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var (
		blocks  []readmeBlock
		cur     *readmeBlock
		code    strings.Builder
		comment []string // the lines of an HTML comment being read
		inCmt   bool
		decls   string // of the last readme-test comment, until a block takes it
		prose   []string
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.code = code.String()
			if cur.lang == "text" && len(blocks) > 0 {
				prev := &blocks[len(blocks)-1]
				if prev.lang == "go" && prev.output == nil && strings.Join(prose, " ") == "It prints:" {
					out := cur.code
					prev.output = &out
				}
			}
			blocks = append(blocks, *cur)
			cur, prose = nil, nil
			code.Reset()
		case cur != nil:
			code.WriteString(line + "\n")
		case strings.HasPrefix(line, "```"):
			cur = &readmeBlock{lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: n, decls: decls}
			decls = ""
		case inCmt || strings.HasPrefix(line, "<!-- readme-test:"):
			inCmt = true
			comment = append(comment, line)
			if strings.HasSuffix(line, "-->") {
				text := strings.Join(comment, "\n")
				text = strings.TrimPrefix(text, "<!-- readme-test:")
				decls = strings.TrimSuffix(text, "-->")
				inCmt, comment = false, nil
			}
		case strings.TrimSpace(line) != "":
			prose = append(prose, strings.TrimSpace(line))
			decls = "" // a readme-test comment belongs to the block right below it
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "README.md ends inside a code block")
	require.False(t, inCmt, "README.md ends inside a readme-test comment")
	return blocks
}

// numbered returns src with line numbers, to read go vet's positions.
func numbered(src string) string {
	var b strings.Builder
	for i, l := range strings.Split(src, "\n") {
		fmt.Fprintf(&b, "%3d  %s\n", i+1, l)
	}
	return b.String()
}
