package main

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/lookalike/lookalike/album"
)

// TestMain lets a test run the CLI in a child process: the test binary
// re-executed with LOOKALIKE_TEST_MAIN=1 is lookalike itself.
func TestMain(m *testing.M) {
	if os.Getenv("LOOKALIKE_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestServeCrash adds images to a running server from concurrent clients,
// kills it with SIGKILL in the middle, and checks that every image whose
// add was acknowledged is in the index the restarted server reads.
func TestServeCrash(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	os.MkdirAll(photos, 0o755)
	for i := 0; i < 2; i++ {
		os.WriteFile(filepath.Join(photos, fmt.Sprintf("p%d.png", i)), photoPNG(t, uint8(60*i)), 0o644)
	}
	idx := filepath.Join(dir, "idx")
	if code, _, stderr := runCLI(t, "index", "--index", idx, photos); code != 0 {
		t.Fatalf("index: %s", stderr)
	}

	cmd := exec.Command(os.Args[0], "serve", "--index", idx, "--addr", "127.0.0.1:0", "--api-key", "k")
	cmd.Env = append(os.Environ(), "LOOKALIKE_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := ""
	sc := bufio.NewScanner(stderr)
	serving := regexp.MustCompile(`on http://(\S+)/`)
	for sc.Scan() {
		if m := serving.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatal("the server did not start")
	}
	go func() {
		for sc.Scan() {
		}
	}()

	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for c := 0; c < 3; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var b bytes.Buffer
				mw := multipart.NewWriter(&b)
				fw, _ := mw.CreateFormFile("image", "x.png")
				fw.Write(photoPNG(t, uint8(c*80+i)))
				mw.Close()
				req, _ := http.NewRequest("POST", "http://"+addr+"/v1/images", &b)
				req.Header.Set("Content-Type", mw.FormDataContentType())
				req.Header.Set("X-API-Key", "k")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is gone
				}
				var out bytes.Buffer
				out.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					m := regexp.MustCompile(`"path":"([^"]+)"`).FindStringSubmatch(out.String())
					mu.Lock()
					acked = append(acked, m[1])
					mu.Unlock()
				}
			}
		}(c)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Kill() // SIGKILL: no shutdown, no flush
	cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no add was acknowledged before the kill")
	}
	a, err := album.Load(filepath.Join(idx, albumFile))
	if err != nil {
		t.Fatalf("the index does not load after the kill: %v", err)
	}
	have := map[string]bool{}
	for _, e := range a.Entries {
		have[e.Path] = true
	}
	for _, p := range acked {
		if !have[p] {
			t.Errorf("acknowledged %s is missing after the kill", p)
		}
	}
	t.Logf("%d adds acknowledged before the kill, all in the index (%d entries)", len(acked), len(a.Entries))
}

// photoPNG is a 64x48 image whose content varies with shade.
func photoPNG(t *testing.T, shade uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{shade, uint8(4 * x), uint8((x*y + int(shade)) % 256), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
