package lazyprom_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	lazyprom "github.com/lazysched/lazysched/prom"
)

// A NaN bound is no bound: every comparison with it is false, so a
// histogram with a NaN bucket puts every observation past it (its count
// stays 0, le="NaN" in every scrape) and quantiles over it say nothing.
// WithBuckets(NaN, 1) was refused as "not strictly increasing", but a NaN
// alone, or last in a list whose order check it never fails first, passed.
func TestHostileBucketsRefuseANaNBoundWherever(t *testing.T) {
	nan := math.NaN()
	for name, b := range map[string][]float64{
		"NaN alone":  {nan},
		"NaN first":  {nan, 1},
		"NaN last":   {0.5, 1, nan},
		"NaN middle": {0.5, nan, 1},
	} {
		_, err := lazyprom.New(lazyprom.WithBuckets(b...))
		assert.ErrorIs(t, err, lazyprom.ErrInvalidOption, "New(WithBuckets(%s))", name)
	}
	_, err := lazyprom.New(lazyprom.WithBuckets(0.5, 1, math.Inf(1)))
	assert.NoError(t, err, "an explicit +Inf bound is Prometheus's own last bucket")
}
