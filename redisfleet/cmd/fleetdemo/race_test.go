//go:build race

package main

// raceEnabled says that the test runs with the race detector, so that the
// demo it builds is built with it too.
const raceEnabled = true
