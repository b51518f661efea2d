// Package kiosk holds the files built into the kiosk binary: the demo data
// set (personas and their photos) that `kiosk seed --demo` loads.
package kiosk

import (
	"embed"
	"io/fs"
)

// The demo portraits are drawn by a program, not photographed: `go
// generate` redraws testdata/demo/photos after testdata/demo/genphotos.go
// or the personas change.
//
//go:generate go run testdata/demo/genphotos.go -dir testdata/demo

//go:embed testdata/demo/personas.json testdata/demo/photos/*.png
var demoFiles embed.FS

// DemoData is the demo data set: personas.json and photos/.
func DemoData() fs.FS {
	sub, err := fs.Sub(demoFiles, "testdata/demo")
	if err != nil {
		// The path is a constant checked by the compiler's embed.
		panic(err)
	}
	return sub
}
