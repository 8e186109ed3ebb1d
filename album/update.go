package album

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Extensions are the file name extensions Update treats as images (case
// does not matter); other files in the folder are left alone.
var Extensions = []string{".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}

// FileError is a file that could not be indexed, and why.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }

// Report sums up an update.
type Report struct {
	Added, Changed, Removed, Kept int
	Failed                        []*FileError
}

// Update brings a up to date with the image files under a.Root: files
// that are new, or whose size or modification time changed, are
// described with x; entries of files that are gone are dropped; the rest
// are kept without reading the file. Files that fail are listed in the
// report and left out (a previous entry of a changed file that now fails
// is dropped too, since it no longer describes the file).
//
// save, when not nil, is called with the album as it stands every
// checkpoint interval and at the end, so that a killed run keeps what it
// had described; entries of files not yet reached are kept from before in
// the meantime. progress, when not nil, receives a progress line.
func Update(ctx context.Context, a *Album, x *Extractor, save func(*Album) error, checkpoint time.Duration, progress io.Writer) (*Report, error) {
	old := make(map[string]Entry, len(a.Entries))
	for _, e := range a.Entries {
		old[e.Path] = e
	}
	type file struct {
		rel     string
		size    int64
		modTime int64
	}
	var files []file
	err := filepath.WalkDir(a.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != a.Root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isImageName(d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(a.Root, path)
		if err != nil {
			return err
		}
		files = append(files, file{filepath.ToSlash(rel), info.Size(), info.ModTime().UnixNano()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("album: read %s: %w", a.Root, err)
	}

	rep := &Report{}
	var kept []Entry
	var todo []file
	present := make(map[string]bool, len(files))
	for _, f := range files {
		present[f.rel] = true
		e, ok := old[f.rel]
		switch {
		case ok && e.Size == f.size && e.ModTime == f.modTime && len(e.Vector) == a.Dim:
			kept = append(kept, e)
			rep.Kept++
		case ok:
			todo = append(todo, f)
			rep.Changed++
		default:
			todo = append(todo, f)
			rep.Added++
		}
	}
	for p := range old {
		if !present[p] {
			rep.Removed++
		}
	}

	done := make([]Entry, 0, len(todo))
	finished := make([]bool, len(todo))
	// snapshot is the album with every described file, the kept ones, and
	// the old entries of files still waiting.
	snapshot := func() {
		entries := append(append([]Entry{}, kept...), done...)
		for i, f := range todo {
			if e, ok := old[f.rel]; ok && !finished[i] && len(e.Vector) == a.Dim {
				entries = append(entries, e)
			}
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
		a.Entries = entries
	}
	start, last, shown := time.Now(), time.Now(), time.Time{}
	paths := make([]string, len(todo))
	for i, f := range todo {
		paths[i] = filepath.Join(a.Root, filepath.FromSlash(f.rel))
	}
	var saveErr error
	n := 0
	err = x.Files(ctx, paths, func(i int, vec []float32, err error) {
		n++
		finished[i] = true
		if err != nil {
			rep.Failed = append(rep.Failed, &FileError{Path: paths[i], Err: err})
		} else {
			if a.Dim == 0 {
				a.Dim = len(vec)
			}
			done = append(done, Entry{Path: todo[i].rel, Size: todo[i].size, ModTime: todo[i].modTime, Vector: vec})
		}
		if progress != nil && (time.Since(shown) >= 250*time.Millisecond || n == len(todo)) {
			fmt.Fprintf(progress, "\rindexing %d/%d new or changed files, %.1f images/s ", n, len(todo), float64(n)/time.Since(start).Seconds())
			shown = time.Now()
		}
		if save != nil && saveErr == nil && time.Since(last) >= checkpoint {
			snapshot()
			saveErr = save(a)
			last = time.Now()
		}
	})
	if progress != nil && len(todo) > 0 {
		fmt.Fprintln(progress)
	}
	snapshot()
	if err == nil {
		// Every file was reached: drop the entries of failed files and
		// of removed ones (snapshot kept neither).
		err = saveErr
	}
	if err != nil {
		if save != nil {
			if serr := save(a); serr != nil {
				return rep, fmt.Errorf("%w (and saving what was done: %v)", err, serr)
			}
		}
		return rep, err
	}
	if err := a.Learn(); err != nil {
		return rep, err
	}
	if save != nil {
		return rep, save(a)
	}
	return rep, nil
}

func isImageName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range Extensions {
		if ext == e {
			return true
		}
	}
	return false
}
