package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/lookalike/lookalike/codes"
	"github.com/lookalike/lookalike/hashing"
)

// resultsFile is the JSON file beside the results page that keeps every
// row, so that a run of a few methods updates the page instead of
// replacing it: training every deep method at every length takes hours on
// two cores, more than one sitting.
type resultsFile struct {
	Protocol string       `json:"protocol"`
	Rows     []qualityRow `json:"rows"`
}

// resultsJSON is the path of the JSON file of the results page page.
func resultsJSON(page string) string {
	return strings.TrimSuffix(page, ".md") + ".json"
}

// qualityCommand is the command line of a bench quality run.
func qualityCommand(o benchOptions, protocol string) string {
	epochs := ""
	if o.Epochs != 0 {
		epochs = fmt.Sprintf(" --epochs %d", o.Epochs)
	}
	return fmt.Sprintf("lookalike bench quality --protocol %s --methods %s --bits %s%s --seed %d",
		protocol, strings.Join(o.methodList(), ","), o.BitsList.String(), epochs, o.Seed)
}

func isDeep(m hashing.Method) bool {
	_, ok := m.(hashing.Deep)
	return ok
}

func epochsCell(epochs int) string {
	if epochs == 0 {
		return ""
	}
	return strconv.Itoa(epochs)
}

// saveResults merges the rows of this run into those kept beside the page
// (unless --fresh), then writes the page, its plots and the JSON file. A
// lock file serializes runs that finish at the same time, so neither loses
// the other's rows.
func saveResults(o benchOptions, protocol string, fresh []qualityRow, stdout io.Writer) error {
	path := resultsJSON(o.Out)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	unlock, err := lockDir(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("lock %s: %w", filepath.Dir(path), err)
	}
	defer unlock()
	var kept resultsFile
	if !o.Fresh {
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("read %s: %w", path, err)
		default:
			if err := json.Unmarshal(data, &kept); err != nil {
				return fmt.Errorf("read %s: %w (move it away or run with --fresh)", path, err)
			}
			if kept.Protocol != protocol {
				return badInput("%s holds results of protocol %s, not %s: choose another --out or run with --fresh", path, kept.Protocol, protocol)
			}
		}
	}
	all := mergeRows(kept.Rows, fresh)
	var rows, torch []qualityRow
	for _, r := range all {
		if r.Torch {
			torch = append(torch, r)
		} else {
			rows = append(rows, r)
		}
	}
	if err := writeResults(o, protocol, rows, torch, stdout); err != nil {
		return err
	}
	data, err := json.MarshalIndent(resultsFile{Protocol: protocol, Rows: all}, "", " ")
	if err != nil {
		return err
	}
	return codes.AtomicWrite(path, func(w io.Writer) error { _, err := w.Write(append(data, '\n')); return err })
}

// mergeRows returns the rows of kept that fresh does not replace (the same
// method, bits, labelled images and origin) together with fresh, ordered
// by method name, then bits, then labelled images (scarce labels after
// all): the real-valued reference first and each method's PyTorch rows
// after its own.
func mergeRows(kept, fresh []qualityRow) []qualityRow {
	type key struct {
		method         string
		bits, labelled int
		torch          bool
	}
	byKey := map[key]qualityRow{}
	for _, r := range kept {
		byKey[key{r.Method, r.Bits, r.Labelled, r.Torch}] = r
	}
	for _, r := range fresh {
		byKey[key{r.Method, r.Bits, r.Labelled, r.Torch}] = r
	}
	out := make([]qualityRow, 0, len(byKey))
	for _, r := range byKey {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b qualityRow) int {
		ra, rb := a.Note == "reference", b.Note == "reference"
		switch {
		case ra != rb && ra:
			return -1
		case ra != rb:
			return 1
		}
		return cmp.Or(strings.Compare(a.Method, b.Method), cmp.Compare(a.Bits, b.Bits), cmp.Compare(labelledRank(a), labelledRank(b)))
	})
	return out
}

// labelledRank orders rows of all labels before those of scarce labels.
func labelledRank(r qualityRow) int {
	if r.Labelled == 0 {
		return -1
	}
	return r.Labelled
}

// runsOf returns one row per distinct run (command and date) among rows,
// in the order of their first rows, for the page's list of runs.
func runsOf(rows []qualityRow) []qualityRow {
	var runs []qualityRow
	seen := map[string]bool{}
	for _, r := range rows {
		k := r.Command + "\x00" + r.Date
		if r.Command == "" || seen[k] {
			continue
		}
		seen[k] = true
		runs = append(runs, r)
	}
	return runs
}
