package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/backbone"
	"github.com/lookalike/lookalike/descriptor"
	"github.com/lookalike/lookalike/imageio"
)

// chromiumPath returns the browser the page test drives: $LOOKALIKE_CHROMIUM,
// or the first of the usual Chromium and Chrome names on PATH; "" when
// there is none.
func chromiumPath() string {
	if p := os.Getenv("LOOKALIKE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// pageState is what the page shows, as pageStateJS reads it.
type pageState struct {
	Model       string       `json:"model"`
	Status      string       `json:"status"`
	Error       bool         `json:"error"`
	Query       string       `json:"query"`
	QueryID     string       `json:"queryId"`
	QueryLoaded bool         `json:"queryLoaded"`
	Results     []pageResult `json:"results"`
}

type pageResult struct {
	ID      string `json:"id"`
	Caption string `json:"caption"`
	Loaded  bool   `json:"loaded"` // the thumbnail was fetched and decoded
	Stale   bool   `json:"stale"`  // marked before a click: the grid was not redrawn
}

const pageStateJS = `(() => {
  const loaded = img => !!img && img.complete && img.naturalWidth > 0;
  const q = document.getElementById('query');
  const st = document.getElementById('status');
  return {
    model: document.getElementById('model').textContent,
    status: st.textContent,
    error: st.classList.contains('error'),
    query: q.hidden ? '' : q.querySelector('figcaption').textContent,
    queryId: q.dataset.id || '',
    queryLoaded: !q.hidden && loaded(q.querySelector('img')),
    results: [...document.querySelectorAll('#grid figure')].map(f => ({
      id: f.dataset.id || '',
      caption: f.querySelector('figcaption').textContent,
      loaded: loaded(f.querySelector('img')),
      stale: f.dataset.stale === '1',
    })),
  };
})()`

// caption is a result's caption: rank, cosine score, the Hamming distance
// in an index with codes, path.
var caption = regexp.MustCompile(`^\d+\. -?\d\.\d{3}( \(d=\d+\))? [a-e]\.png$`)

// TestPage_Chromium drives the web page in headless Chromium over five
// images: it clicks the drop zone and chooses an image in the file chooser,
// checks the grid (thumbnails, ranks and scores, the model and method that
// answered, the query shown), clicks a result to search with it, uploads a
// file that is not an image (a visible error), and drops an image on an
// index with codes (its method and Hamming distances shown). Exceptions and
// console errors of the page fail it too. It skips when no Chromium is
// installed (scripts/setup.sh installs Debian's).
func TestPage_Chromium(t *testing.T) {
	exe := chromiumPath()
	if exe == "" {
		t.Skip("no chromium binary on PATH (scripts/setup.sh installs Debian's chromium; LOOKALIKE_CHROMIUM names another): the web page is not tested")
	}
	bb, err := backbone.Default("", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	root := t.TempDir()
	shades := []uint8{0, 60, 120, 180, 240}
	for i, shade := range shades {
		os.WriteFile(filepath.Join(root, string(rune('a'+i))+".png"), pngBytes(t, shade), 0o644)
	}
	x := &album.Extractor{Backbone: bb, Pooling: descriptor.GeM, Limits: imageio.DefaultLimits}
	a := &album.Album{Root: root, Settings: album.Settings{Backbone: bb.Config.Name, Pooling: descriptor.GeM}}
	if _, err := album.Update(context.Background(), a, x, nil, time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	s := New(a, x, 2, nil)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	uploads := t.TempDir()
	query := filepath.Join(uploads, "q.png") // c.png's pixels
	notImage := filepath.Join(uploads, "notes.png")
	os.WriteFile(query, pngBytes(t, 120), 0o644)
	os.WriteFile(notImage, []byte("shopping list"), 0o644)

	// As root in a container Chromium refuses to start without
	// --no-sandbox; a container has no GPU, and its /dev/shm can be too
	// small (--disable-dev-shm-usage puts the shared memory in /tmp).
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1024),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// Uncaught exceptions and the page's console errors fail the test (the
	// browser's own log, with the failed requests asked for, does not).
	start := time.Now()
	var mu sync.Mutex
	var jsErrors []string
	consoleDone := make(chan struct{})
	messages := chromedp.Console(ctx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError && m.Source == "" {
				mu.Lock()
				jsErrors = append(jsErrors, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/")); err != nil {
		t.Fatalf("start %s and open the page: %v", exe, err)
	}
	t.Logf("%s opened the page in %v", exe, time.Since(start).Round(time.Millisecond))
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// wait polls the page until ok holds, and fails with what it shows.
	wait := func(what string, ok func(pageState) error) pageState {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](pageStateJS))
			if err == nil {
				err = ok(st)
				if err == nil {
					return st
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				mu.Lock()
				logged := strings.Join(jsErrors, "\n")
				mu.Unlock()
				t.Fatalf("%s: %v\npage: %+v\nerrors logged: %s", what, err, st, logged)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// grid checks a full grid: every result with its thumbnail and a
	// caption with a score, the first being want with score 1, and the
	// status naming the model and the method.
	grid := func(want, method string) func(pageState) error {
		return func(st pageState) error {
			if len(st.Results) != len(shades) {
				return fmt.Errorf("%d results, want %d", len(st.Results), len(shades))
			}
			for i, r := range st.Results {
				if r.Stale {
					return fmt.Errorf("result %d is from before: the grid was not redrawn", i+1)
				}
				if !caption.MatchString(r.Caption) || !strings.HasPrefix(r.Caption, fmt.Sprintf("%d. ", i+1)) {
					return fmt.Errorf("result %d: caption %q lacks its rank, score or path", i+1, r.Caption)
				}
				if !r.Loaded {
					return fmt.Errorf("result %d (%s): thumbnail not shown", i+1, r.Caption)
				}
			}
			if c := st.Results[0].Caption; !strings.HasPrefix(c, "1. 1.000") || !strings.HasSuffix(c, " "+want) {
				return fmt.Errorf("first result %q, want %s with score 1.000", c, want)
			}
			for _, w := range []string{fmt.Sprintf("%d results", len(shades)), bb.Config.Name, "gem pooling", method} {
				if !strings.Contains(st.Status, w) || st.Error {
					return fmt.Errorf("status %q lacks %q", st.Status, w)
				}
			}
			if !st.QueryLoaded {
				return fmt.Errorf("query image not shown")
			}
			return nil
		}
	}

	wait("the model line", func(st pageState) error {
		for _, w := range []string{fmt.Sprintf("%d images", len(shades)), bb.Config.Name, "gem pooling", "exact cosine"} {
			if !strings.Contains(st.Model, w) {
				return fmt.Errorf("model line %q lacks %q", st.Model, w)
			}
		}
		return nil
	})

	// Click the drop zone, away from its "choose one" link, and choose
	// q.png in the file chooser that opens.
	chooseFile(t, ctx, "#drop", query)
	st := wait("results of the upload", func(st pageState) error {
		if st.Query != "query: q.png" || st.QueryID != "" {
			return fmt.Errorf("query shown %q (id %q), want q.png", st.Query, st.QueryID)
		}
		return grid("c.png", "exact cosine")(st)
	})

	// Click the last result: the query becomes that image and the grid is
	// redrawn with it first.
	last := st.Results[len(st.Results)-1]
	path := last.Caption[strings.LastIndex(last.Caption, " ")+1:]
	run("click "+path,
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#grid figure').forEach(f => f.dataset.stale = '1')`),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#grid figure[data-id="%s"]`, last.ID))))
	wait("results of the click on "+path, func(st pageState) error {
		if st.Query != "query: "+path || st.QueryID != last.ID {
			return fmt.Errorf("query shown %q (id %q), want %s (id %s)", st.Query, st.QueryID, path, last.ID)
		}
		if err := grid(path, "exact cosine")(st); err != nil {
			return err
		}
		if st.Results[0].ID != last.ID {
			return fmt.Errorf("first result has id %s, want %s", st.Results[0].ID, last.ID)
		}
		return nil
	})

	// A file that is not an image: the error shows, the grid empties.
	run("choose notes.png", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{notImage}))
	wait("the error of a text upload", func(st pageState) error {
		if st.Query != "query: notes.png" {
			return fmt.Errorf("query shown %q, want notes.png", st.Query)
		}
		if !st.Error || !strings.HasPrefix(st.Status, "error: ") || len(st.Results) != 0 {
			return fmt.Errorf("want a visible error and no results")
		}
		return nil
	})

	// An index with codes: the page names the method and shows distances.
	s.mu.Lock()
	a.Settings.Hash, a.Settings.Bits = "itq", 2
	err = a.Learn()
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	run("reload", chromedp.Reload())
	wait("the model line with codes", func(st pageState) error {
		if !strings.Contains(st.Model, "2-bit itq codes") {
			return fmt.Errorf("model line %q lacks the codes", st.Model)
		}
		return nil
	})
	run("drop q.png on the page", dropFile("#drop", query))
	wait("results with codes", func(st pageState) error {
		if err := grid("c.png", "2-bit itq codes")(st); err != nil {
			return err
		}
		if !strings.Contains(st.Results[0].Caption, "(d=0)") {
			return fmt.Errorf("first result %q lacks its Hamming distance 0", st.Results[0].Caption)
		}
		return nil
	})

	cancel()
	<-consoleDone
	mu.Lock()
	defer mu.Unlock()
	if len(jsErrors) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(jsErrors, "\n"))
	}
	t.Logf("page checks took %v", time.Since(start).Round(time.Millisecond))
}

// chooseFile clicks near the top left corner of the element sel and
// answers the file chooser that opens with file.
func chooseFile(t *testing.T, ctx context.Context, sel, file string) {
	t.Helper()
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	opened := chromedp.Events(wait, page.FileChooserOpened)
	click := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, page.SetInterceptFileChooserDialog, page.SetInterceptFileChooserDialogParams{Enabled: true}); err != nil {
			return err
		}
		at, err := chromedp.Evaluate[[2]float64](fmt.Sprintf(
			`(r => [r.x + 8, r.y + 8])(document.querySelector(%q).getBoundingClientRect())`, sel))(ctx, t)
		if err != nil {
			return err
		}
		_, err = chromedp.MouseClickXY(at[0], at[1])(ctx, t)
		return err
	})
	if err := chromedp.Do(ctx, click); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
	for ev, err := range opened {
		if err != nil {
			t.Fatalf("clicking %s opened no file chooser: %v", sel, err)
		}
		set := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, dom.SetFileInputFiles, dom.SetFileInputFilesParams{Files: []string{file}, BackendNodeID: ev.BackendNodeID})
			return err
		})
		if err := chromedp.Do(ctx, set); err != nil {
			t.Fatalf("choose %s: %v", file, err)
		}
		return
	}
}

// dropFile drags the file from outside the page onto the center of the
// element sel, as a file manager does.
func dropFile(sel, file string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		at, err := chromedp.Evaluate[[2]float64](fmt.Sprintf(
			`(r => [r.x + r.width/2, r.y + r.height/2])(document.querySelector(%q).getBoundingClientRect())`, sel))(ctx, t)
		if err != nil {
			return err
		}
		data := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{file}, DragOperationsMask: 1}
		for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
			p := input.DispatchDragEventParams{Type: typ, X: at[0], Y: at[1], Data: data}
			if _, err := cdp.Call(ctx, t, input.DispatchDragEvent, p); err != nil {
				return fmt.Errorf("%s: %w", typ, err)
			}
		}
		return nil
	})
}
