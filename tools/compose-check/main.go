// compose-check loads a Compose file the way `docker compose config` does, with the
// compose-spec library Docker Compose itself uses: schema validation, interpolation,
// normalisation and consistency checks (for example depends_on naming a real service).
// It prints the normalised project on success, and one line per problem on failure.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check FILE")
		os.Exit(2)
	}
	file, _ := filepath.Abs(os.Args[1])
	opts, err := cli.NewProjectOptions(
		[]string{file},
		cli.WithName("leadledger"),
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithOsEnv,
	)
	if err == nil {
		project, loadErr := opts.LoadProject(context.Background())
		err = loadErr
		if err == nil {
			var out []byte
			if out, err = project.MarshalYAML(); err == nil {
				os.Stdout.Write(out)
				return
			}
		}
	}
	fmt.Fprintf(os.Stderr, "compose-check: %s: %v\n", os.Args[1], err)
	os.Exit(1)
}
