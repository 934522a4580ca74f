package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tdro/tdro/internal/recipeflag"
)

// bindRecipe adds a flag for every field of a stage recipe (generated from
// the struct: names from its JSON tags, help from its help tags, defaults
// from its current value), plus the short spellings older commands took.
func bindRecipe(f *pflag.FlagSet, recipe any) {
	recipeflag.Bind(f, recipe)
	recipeflag.Aliases(f, map[string]string{"lr": "learning-rate"})
}

// readConfigUnderFlags runs read, which loads a --config file into the
// config the flags are bound to, then sets again every flag given on the
// command line: flags override the file's fields, which override defaults.
func readConfigUnderFlags(cmd *cobra.Command, read func() error) error {
	changed := map[string]string{}
	cmd.Flags().Visit(func(f *pflag.Flag) { changed[f.Name] = f.Value.String() })
	if err := read(); err != nil {
		return err
	}
	for name, v := range changed {
		if err := cmd.Flags().Set(name, v); err != nil {
			return err
		}
	}
	return nil
}
