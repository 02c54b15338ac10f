package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds the configuration file: a larger file is refused unread.
const MaxFileSize = 1 << 20

// maxValues bounds how many YAML values one file may decode to, so that
// aliases cannot make a small file take forever. A file of 1 MiB holds
// fewer than 100,000 AGB codes.
const maxValues = 1 << 18

// Problem is one thing wrong with a configuration, with its place.
type Problem struct {
	// File is the configuration file ("" for a Config built in code).
	File string
	// Line and Column are 1-based; 0 when the place is not known, such as
	// for a Config built in code or a key that is missing from the file.
	Line, Column int
	// Path names the value, e.g. "tenants[1].organisations[0]"; "" for
	// the file as a whole.
	Path string
	Msg  string
}

// Error formats the problem as "FILE:LINE: PATH: problem", leaving out the
// parts that are not known.
func (p Problem) Error() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in a configuration, in the order of the
// file. Load returns it as its error; get at it with errors.As.
type Problems []Problem

// Error lists the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads the configuration file at path, decodes it strictly (unknown
// keys and values of the wrong type are problems), applies the defaults,
// resolves relative paths against the file's folder and validates the
// result. Every problem in the file is reported at once, as Problems; an
// error of another type means the file could not be read.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read config %s: file is larger than 1 MiB", path)
	}
	return load(data, path)
}

// load does Load's work on the file's contents.
func load(data []byte, path string) (*Config, error) {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	root, p := parse(data)
	if p != nil {
		p.File = path
		return nil, Problems{*p}
	}

	c := &Config{}
	d := decoder{pos: map[string]position{}, bad: map[string]bool{}, budget: maxValues}
	d.decode(root, reflect.ValueOf(c).Elem(), "")
	if d.budget < 0 {
		// Validating such a tree would only drown the one problem.
		return nil, withFile(d.problems, path)
	}
	c.Path = path
	c.ApplyDefaults()
	c.resolvePaths(dir)

	probs := d.problems
	for _, p := range c.Validate() {
		if d.undecoded(p.Path) {
			continue // already reported as a value of the wrong type
		}
		pos := d.position(p.Path)
		p.Line, p.Column = pos.line, pos.column
		probs = append(probs, p)
	}
	if len(probs) == 0 {
		return c, nil
	}
	// Problems without a place (keys missing from the file) go last.
	slices.SortStableFunc(probs, func(a, b Problem) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return nil, withFile(probs, path)
}

func withFile(probs Problems, file string) Problems {
	for i := range probs {
		probs[i].File = file
	}
	return probs
}

var yamlErrorLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse parses data as a single YAML document holding a mapping, and
// returns the mapping or why not.
func parse(data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		return nil, &Problem{Msg: "configuration is empty"}
	}
	if err != nil {
		return nil, syntaxProblem(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &Problem{Line: next.Line, Column: next.Column, Msg: "a second YAML document: the file must hold one"}
	case !errors.Is(err, io.EOF):
		return nil, syntaxProblem(err)
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, &Problem{Msg: "configuration is empty"}
	}
	return root, nil
}

func syntaxProblem(err error) *Problem {
	msg := err.Error()
	if m := yamlErrorLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Problem{Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Problem{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

type position struct{ line, column int }

// decoder decodes a YAML node tree into the configuration structs, much as
// yaml.Node.Decode with KnownFields would, but it goes on after a problem
// so as to report them all, and it remembers where each value was written
// so that Validate's problems can be placed too.
type decoder struct {
	problems Problems
	// pos maps the path of every key and list item decoded to its place.
	pos map[string]position
	// bad holds the paths of values that could not be decoded.
	bad map[string]bool
	// budget counts down the values decoded; see maxValues.
	budget int
}

func (d *decoder) problem(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fail records that the value at path could not be decoded.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.problem(n, path, format, args...)
	d.bad[path] = true
}

// undecoded reports whether path is, or is inside, a value that could not
// be decoded.
func (d *decoder) undecoded(path string) bool {
	for ; path != ""; path = parent(path) {
		if d.bad[path] {
			return true
		}
	}
	return d.bad[""]
}

// position returns the place of path in the file, or of the nearest
// enclosing value that is in the file.
func (d *decoder) position(path string) position {
	for ; path != ""; path = parent(path) {
		if p, ok := d.pos[path]; ok {
			return p
		}
	}
	return position{}
}

// parent returns the path of the value that holds the one at path:
// "tenants[1]" for "tenants[1].id", "tenants" for "tenants[1]".
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.fail(n, path, "too many values: more than %d, counting each repeat of an alias", maxValues)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		v.SetZero()
		return
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.fail(n, path, "%s", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.decode(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "must be a mapping, not %s", describe(n))
			return
		}
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "must be a list, not %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.pos[p] = position{item.Line, item.Column}
			d.decode(item, s.Index(i), p)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be a string, not %s", describe(n))
			return
		}
		v.SetString(n.Value)
	default:
		// Decode only the right YAML types: yaml.Node.Decode would turn
		// 2.5 into the int 2.
		var want string
		var tags []string
		switch v.Kind() {
		case reflect.Bool:
			want, tags = "true or false", []string{"!!bool"}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want, tags = "a whole number", []string{"!!int"}
		case reflect.Float32, reflect.Float64:
			want, tags = "a number", []string{"!!int", "!!float"}
		default:
			panic("config: cannot decode into " + v.Type().String())
		}
		if n.Kind != yaml.ScalarNode || !slices.Contains(tags, n.ShortTag()) || n.Decode(v.Addr().Interface()) != nil {
			d.fail(n, path, "must be %s, not %s", want, describe(n))
		}
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	fields := map[string]int{}
	var names []string
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "-" && name != "" {
			fields[name] = i
			names = append(names, name)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			d.merge(val, v, path)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.problem(k, path, "a key must be a plain string, not %s", describe(k))
			continue
		}
		idx, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %s", quote(k.Value))
			if s := suggest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.problem(k, path, "%s", msg)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.problem(k, path, "key %q already given at line %d", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		p := join(path, k.Value)
		d.pos[p] = position{k.Line, k.Column}
		d.decode(val, v.Field(idx), p)
	}
}

// merge decodes the mappings of a merge key ("<<: *defaults").
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		d.decodeStruct(n, v, path)
	case yaml.SequenceNode:
		for _, m := range n.Content {
			if m.Kind == yaml.AliasNode {
				m = m.Alias
			}
			if m.Kind != yaml.MappingNode {
				d.problem(m, path, "a merge key takes mappings, not %s", describe(m))
				continue
			}
			d.decodeStruct(m, v, path)
		}
	default:
		d.problem(n, path, "a merge key takes mappings, not %s", describe(n))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names a node for a message: its value if it is a scalar.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return quote(n.Value)
	}
	return "nothing"
}

// quote quotes s for a message, shortened if it is long.
func quote(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return strconv.Quote(s)
}

// suggest returns the name closest to key if it is close enough to be
// the one meant, else "".
func suggest(key string, names []string) string {
	best, bestDist := "", 3
	for _, name := range names {
		if d := editDistance(key, name); d < bestDist {
			best, bestDist = name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Defaults applied by ApplyDefaults.
const (
	defaultStoreType             = "local"
	defaultStorePath             = "store"
	defaultRegion                = "eu-west-1"
	defaultPartSize              = 16 * MiB
	defaultMaxFileSize           = 20 * GiB
	defaultMaxSessionsPerTenant  = 16
	defaultAuthFailuresBeforeBan = 10
	defaultBan                   = Duration(15 * time.Minute)
	defaultHandshakeTimeout      = Duration(30 * time.Second)
	defaultIdleTimeout           = Duration(10 * time.Minute)
	defaultMinCell               = 10
	defaultPreWindowBefore       = 90
	defaultPreWindowAfter        = 21
	defaultPostWindowBefore      = 42
	defaultPostWindowAfter       = 21
	defaultClaimTimeout          = Duration(time.Hour)
	defaultMultipartExpiry       = Duration(24 * time.Hour)
)

// ApplyDefaults sets every value that is left unset (zero, or nil for the
// pointers) to its default. Load calls it; call it on a Config built in
// code before Validate.
func (c *Config) ApplyDefaults() {
	orDefault(&c.Store.Type, defaultStoreType)
	orDefault(&c.Store.Path, defaultStorePath)
	// The store's region stays empty unless set: minio-go then asks the
	// bucket for it (GetBucketLocation), right for AWS and MinIO alike.
	orDefault(&c.Store.S3.PartSize, defaultPartSize)
	if c.Store.S3.Secure == nil {
		c.Store.S3.Secure = ptr(true)
	}

	orDefault(&c.Gateway.S3.Region, defaultRegion)
	orDefault(&c.Gateway.S3.MultipartExpiry, defaultMultipartExpiry)
	// The admin listener (metrics, health) is always on, on loopback
	// unless configured otherwise.
	orDefault(&c.Gateway.Admin.Listen, "127.0.0.1:9464")
	l := &c.Gateway.Limits
	orDefault(&l.MaxFileSize, defaultMaxFileSize)
	orDefault(&l.MaxSessionsPerTenant, defaultMaxSessionsPerTenant)
	orDefault(&l.AuthFailuresBeforeBan, defaultAuthFailuresBeforeBan)
	orDefault(&l.Ban, defaultBan)
	orDefault(&l.HandshakeTimeout, defaultHandshakeTimeout)
	orDefault(&l.IdleTimeout, defaultIdleTimeout)

	p := &c.Processor
	orDefault(&p.MinCell, defaultMinCell)
	for _, w := range []struct {
		days **int
		def  int
	}{
		{&p.PreWindowBefore, defaultPreWindowBefore},
		{&p.PreWindowAfter, defaultPreWindowAfter},
		{&p.PostWindowBefore, defaultPostWindowBefore},
		{&p.PostWindowAfter, defaultPostWindowAfter},
	} {
		if *w.days == nil {
			*w.days = ptr(w.def)
		}
	}
	orDefault(&p.ClaimTimeout, defaultClaimTimeout)
}

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func ptr[T any](v T) *T { return &v }

// resolvePaths makes the relative file paths in c relative to dir.
func (c *Config) resolvePaths(dir string) {
	resolve := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	resolve(&c.Store.Path)
	resolve(&c.Store.S3.CAFile)
	for i := range c.Gateway.SFTP.HostKeys {
		resolve(&c.Gateway.SFTP.HostKeys[i])
	}
	resolve(&c.Gateway.S3.TLSCert)
	resolve(&c.Gateway.S3.TLSKey)
	resolve(&c.Gateway.S3.CredentialSecret)
	for i := range c.Processor.AgeIdentities {
		resolve(&c.Processor.AgeIdentities[i])
	}
	for i := range c.Processor.OpenPGPKeys {
		resolve(&c.Processor.OpenPGPKeys[i])
	}
	resolve(&c.Processor.PseudonymKey)
}

// Units of ByteSize.
const (
	B   ByteSize = 1
	KB  ByteSize = 1000
	MB  ByteSize = 1000 * KB
	GB  ByteSize = 1000 * MB
	TB  ByteSize = 1000 * GB
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40
)

// sizeUnits is ordered from the largest unit down, for String.
var sizeUnits = []struct {
	name string
	size ByteSize
}{
	{"TiB", TiB}, {"TB", TB}, {"GiB", GiB}, {"GB", GB},
	{"MiB", MiB}, {"MB", MB}, {"KiB", KiB}, {"KB", KB}, {"B", B},
}

// ParseByteSize parses a whole number of bytes with an optional unit, with
// no space between: "1024", "1024B", "10MB", "512MiB", "20GiB". KB, MB, GB
// and TB are powers of 1000, KiB, MiB, GiB and TiB powers of 1024; units
// are case-sensitive.
func ParseByteSize(s string) (ByteSize, error) {
	unit := strings.TrimLeft(s, "0123456789")
	num := s[:len(s)-len(unit)]
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("invalid size %s: must not be negative", quote(s))
	}
	mult := ByteSize(0)
	for _, u := range sizeUnits {
		if unit == u.name || (unit == "" && u.size == B) {
			mult = u.size
		}
	}
	if num == "" || mult == 0 {
		return 0, fmt.Errorf("invalid size %s: want a whole number and an optional unit B, KB, MB, GB, TB, KiB, MiB, GiB or TiB, e.g. 20GiB", quote(s))
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > int64(math.MaxInt64/mult) {
		return 0, fmt.Errorf("invalid size %s: too large", quote(s))
	}
	return ByteSize(n) * mult, nil
}

// String formats b in the largest unit that expresses it exactly, e.g.
// "20GiB", "10MB", "1500B"; ParseByteSize reads it back.
func (b ByteSize) String() string {
	if b < 0 {
		return strconv.FormatInt(int64(b), 10) + "B"
	}
	for _, u := range sizeUnits {
		if b >= u.size && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return "0B"
}

// UnmarshalYAML reads a size written as a number of bytes (1024) or a
// string with a unit ("20GiB"); see ParseByteSize.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a size such as 20GiB, not %s", describe(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalYAML writes b as String does.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// String formats d as time.Duration does ("15m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a duration as time.ParseDuration does ("15m",
// "1h30m"); a negative duration is an error.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a duration such as 15m, not %s", describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("invalid duration %s: want e.g. 30s, 15m, 1h30m", quote(n.Value))
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %s: must not be negative", quote(n.Value))
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as String does.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
