package factory_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lazysched/lazysched/factory"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// Code that starts tasks takes a Factory; its caller decides where they
// run. Here a scope with a cap of 2, and then plain goroutines.
func Example() {
	lengths := func(f factory.Factory, words []string) ([]int, error) {
		return factory.Map(context.Background(), f, words, 8, func(_ context.Context, w string) (int, error) {
			return len(w), nil
		})
	}
	words := []string{"lazy", "tasks", "run", "somewhere"}

	s, _ := scheduler.New()
	defer s.Shutdown(context.Background())
	sc, _ := s.Root().NewScope(scheduler.WithName("words"), scheduler.WithLimit(2))
	fmt.Println(lengths(sc, words))
	fmt.Println(lengths(factory.Goroutines{}, words))
	// Output:
	// [4 5 3 9] <nil>
	// [4 5 3 9] <nil>
}

func ExampleSubmit() {
	s, _ := scheduler.New(scheduler.WithLimit(4))
	defer s.Shutdown(context.Background())

	t, err := factory.Submit(s, func(ctx context.Context) (string, error) { return "done", nil })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.Await(context.Background()))
	// Output: done <nil>
}

func ExampleRace() {
	mirror := func(name string, ok bool) func(context.Context) (string, error) {
		return func(ctx context.Context) (string, error) {
			if !ok {
				return "", errors.New(name + " is down")
			}
			return "fetched from " + name, nil
		}
	}
	v, err := factory.Race(context.Background(), factory.Goroutines{},
		mirror("eu", false), mirror("us", true), mirror("ap", false))
	fmt.Println(v, err)

	_, err = factory.Race(context.Background(), factory.Goroutines{}, mirror("eu", false), mirror("ap", false))
	fmt.Println(err)
	// Output:
	// fetched from us <nil>
	// eu is down
	// ap is down
}

func ExampleGather() {
	vals, err := factory.Gather(context.Background(), factory.Goroutines{},
		func(context.Context) (int, error) { return 1, nil },
		func(context.Context) (int, error) { return 0, errors.New("second failed") },
		func(context.Context) (int, error) { return 3, nil },
	)
	fmt.Println(vals, err)
	// Output: [1 0 3] second failed
}

func ExampleMap() {
	s, _ := scheduler.New(scheduler.WithLimit(2))
	defer s.Shutdown(context.Background())
	upper, err := factory.Map(context.Background(), s, []string{"a", "b", "c"}, 2,
		func(_ context.Context, v string) (string, error) { return strings.ToUpper(v), nil })
	fmt.Println(upper, err)
	// Output: [A B C] <nil>
}

func ExampleAsCompleted() {
	// Job i may end once job i+1 has been handled: they end last to first.
	turn := []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	job := func(i int) func(context.Context) (string, error) {
		return func(ctx context.Context) (string, error) {
			<-turn[i]
			return fmt.Sprint("job ", i), nil
		}
	}
	close(turn[2])
	for i, r := range factory.AsCompleted(context.Background(), factory.Goroutines{}, job(0), job(1), job(2)) {
		fmt.Println(i, r.Value, r.Err)
		if i > 0 {
			close(turn[i-1])
		}
	}
	// Output:
	// 2 job 2 <nil>
	// 1 job 1 <nil>
	// 0 job 0 <nil>
}

func ExampleStart() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := factory.Start(ln, func(ctx context.Context, conn net.Conn) error {
		_, err := io.Copy(conn, conn) // echo until the client closes
		return err
	}, factory.WithLimit(64))
	if err != nil {
		fmt.Println(err)
		return
	}

	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Fprintln(conn, "hello")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	fmt.Print("echo: ", line)
	conn.Close()

	// Stop accepting, let the connections drain until the context ends.
	fmt.Println("shutdown:", srv.Shutdown(context.Background()))
	// Output:
	// echo: hello
	// shutdown: <nil>
}

func ExampleStartHTTP() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello over HTTP") })
	srv, err := factory.StartHTTP(ln, &http.Server{Handler: mux}, factory.WithLimit(16))
	if err != nil {
		fmt.Println(err)
		return
	}

	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Get("http://" + srv.Addr().String() + "/hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	fmt.Println(resp.Status, string(body))
	fmt.Println("shutdown:", srv.Shutdown(context.Background()))
	// Output:
	// 200 OK hello over HTTP
	// shutdown: <nil>
}

func ExampleWithOptions() {
	s, _ := scheduler.New(scheduler.WithLimit(4))
	defer s.Shutdown(context.Background())
	// Every task of this fan-out gets a name and a deadline of its own.
	f := factory.WithOptions(s, lazytask.WithName("probe"), lazytask.WithTimeout(20*time.Millisecond))
	vals, err := factory.Gather(context.Background(), f,
		func(context.Context) (string, error) { return "fast", nil },
		func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() },
	)
	fmt.Println(vals, err)
	// Output: [fast ] context deadline exceeded
}

func ExampleCompleted() {
	s, _ := scheduler.New(scheduler.WithLimit(2))
	defer s.Shutdown(context.Background())
	first := make(chan struct{})
	slow, _ := scheduler.Submit(s, func(context.Context) (string, error) { <-first; return "slow", nil },
		lazytask.WithName("slow"))
	quick, _ := scheduler.Submit(s, func(context.Context) (string, error) { return "quick", nil },
		lazytask.WithName("quick"))
	for h := range factory.Completed(context.Background(), slow, quick) {
		v, err := h.Result()
		fmt.Println(h.Name(), v, err)
		if h == quick {
			close(first) // let the slow one end once the quick one is handled
		}
	}
	// Output:
	// quick quick <nil>
	// slow slow <nil>
}
