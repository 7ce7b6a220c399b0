package lazyotel_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lazysched/lazysched/lazytask"
	lazyotel "github.com/lazysched/lazysched/otel"
	"github.com/lazysched/lazysched/scheduler"
)

// A traced HTTP handler hands the rendering of a report to the scheduler;
// the task's span is a child of the request's, and the spans the task
// starts are children of the task's.
func Example() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())

	obs, err := lazyotel.New(lazyotel.WithTracerProvider(tp), lazyotel.WithMeterProvider(mp))
	if err != nil {
		panic(err)
	}
	defer obs.Close()
	s, err := scheduler.New(scheduler.WithLimit(4), scheduler.WithHooks(obs.Hooks()))
	if err != nil {
		panic(err)
	}

	tracer := tp.Tracer("example")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// otelhttp would start this span; the example does it by hand.
		ctx, span := tracer.Start(r.Context(), "GET /report")
		defer span.End()
		report, err := scheduler.Submit(s, func(ctx context.Context) (string, error) {
			_, q := tracer.Start(ctx, "SELECT sales")
			defer q.End()
			return "sales: 42", nil
		}, lazytask.WithContext(ctx), lazytask.WithName("render report"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		text, err := report.Await(ctx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, text)
	})
	srv := httptest.NewServer(handler)
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	srv.Close()
	s.Shutdown(context.Background()) // waits for the task's OnDone hook
	fmt.Print(string(body))

	printTree(rec.Ended())
	// Output:
	// sales: 42
	// GET /report
	//   render report
	//     SELECT sales
}

// printTree prints spans indented under their parents, children in name
// order.
func printTree(spans []sdktrace.ReadOnlySpan) {
	kids := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		kids[s.Parent().SpanID()] = append(kids[s.Parent().SpanID()], s)
	}
	var walk func(parent trace.SpanID, indent string)
	walk = func(parent trace.SpanID, indent string) {
		ss := kids[parent]
		slices.SortFunc(ss, func(a, b sdktrace.ReadOnlySpan) int { return strings.Compare(a.Name(), b.Name()) })
		for _, s := range ss {
			fmt.Println(indent + s.Name())
			walk(s.SpanContext().SpanID(), indent+"  ")
		}
	}
	walk(trace.SpanID{}, "")
}
