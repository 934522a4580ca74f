// Package recipeflag turns a recipe struct into command-line flags, so that
// a stage's settings are declared once: the JSON tag names the field in
// config files and (with "_" as "-") on the command line, the help tag is
// the flag's help, and the struct's current value is the default.
//
// Embedded structs contribute their fields; numbers, strings, booleans and
// string-based named types (dro.Measure) become ordinary flags; any other
// field (a pointer to a struct, a slice) takes JSON (`--lora '{"r": 8}'`).
package recipeflag

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Field is one recipe setting: its JSON name, flag name and help.
type Field struct {
	JSON, Flag, Help string
	value            reflect.Value
}

// Fields lists the settings of the recipe recipe points to, depth first.
// A field without a JSON name or help is a programming error: it panics.
func Fields(recipe any) []Field {
	v := reflect.ValueOf(recipe)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("recipeflag: want a pointer to a struct, got %T", recipe))
	}
	var out []Field
	collect(v.Elem(), &out)
	return out
}

func collect(v reflect.Value, out *[]Field) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			collect(v.Field(i), out)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" || name == "-" {
			panic(fmt.Sprintf("recipeflag: %s.%s has no JSON name", t, sf.Name))
		}
		help := sf.Tag.Get("help")
		if help == "" {
			panic(fmt.Sprintf("recipeflag: %s.%s (%s) has no help tag", t, sf.Name, name))
		}
		*out = append(*out, Field{JSON: name, Flag: strings.ReplaceAll(name, "_", "-"), Help: help, value: v.Field(i)})
	}
}

// Bind adds a flag for every field of the recipe recipe points to, bound to
// the field itself: parsing a flag sets the field.
func Bind(fs *pflag.FlagSet, recipe any) {
	for _, f := range Fields(recipe) {
		fs.Var(&value{v: f.value}, f.Flag, f.Help)
		if f.value.Kind() == reflect.Bool {
			fs.Lookup(f.Flag).NoOptDefVal = "true"
		}
	}
}

// Aliases lets older flag spellings keep working: each key is accepted as
// the flag its value names (e.g. "lr" for "learning-rate").
func Aliases(fs *pflag.FlagSet, aliases map[string]string) {
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if to, ok := aliases[name]; ok {
			name = to
		}
		return pflag.NormalizedName(name)
	})
}

// value is a pflag.Value over one field.
type value struct{ v reflect.Value }

func (x *value) String() string {
	if !x.v.IsValid() {
		return ""
	}
	switch x.v.Kind() {
	case reflect.String:
		return x.v.String()
	case reflect.Bool:
		return strconv.FormatBool(x.v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.FormatInt(x.v.Int(), 10)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return strconv.FormatUint(x.v.Uint(), 10)
	case reflect.Float64, reflect.Float32:
		return strconv.FormatFloat(x.v.Float(), 'g', -1, 64)
	}
	b, _ := json.Marshal(x.v.Interface())
	return string(b)
}

func (x *value) Set(s string) error {
	switch x.v.Kind() {
	case reflect.String:
		x.v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		x.v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 0, x.v.Type().Bits())
		if err != nil {
			return err
		}
		x.v.SetInt(n)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		n, err := strconv.ParseUint(s, 0, x.v.Type().Bits())
		if err != nil {
			return err
		}
		x.v.SetUint(n)
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(s, x.v.Type().Bits())
		if err != nil {
			return err
		}
		x.v.SetFloat(f)
	default:
		p := reflect.New(x.v.Type())
		dec := json.NewDecoder(bytes.NewReader([]byte(s)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(p.Interface()); err != nil {
			return fmt.Errorf("want JSON for %s: %w", x.v.Type(), err)
		}
		x.v.Set(p.Elem())
	}
	return nil
}

// Type names the flag's value in help as pflag's own flags do (int,
// float64, ...), or "json".
func (x *value) Type() string {
	switch x.v.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "int"
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "uint64"
	case reflect.Float64, reflect.Float32:
		return "float64"
	}
	return "json"
}
