package server

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lookalike/lookalike/album"
	"github.com/lookalike/lookalike/imageio"
)

// UploadDir is the folder, under the indexed one, where added images are
// stored, named by their content's SHA-256: no name a client sends
// reaches the file system.
const UploadDir = "uploads"

// Changes configures the routes that change the index. With an empty
// APIKey they answer 403.
type Changes struct {
	// APIKey must come in an "Authorization: Bearer KEY" or "X-API-Key"
	// header; it is compared in constant time.
	APIKey string
	// AlbumPath is where the album is saved, atomically, before an add or
	// a delete is acknowledged.
	AlbumPath string
	// MaxBatch bounds the images of one add request (default 64).
	MaxBatch int
	// Saved, when set, is called after each save, with the lock held (the
	// CLI rewrites the index's meta.json there).
	Saved func(*album.Album) error
}

// save writes the album, then calls Saved.
func (s *Server) save() error {
	if err := s.album.Save(s.changes.AlbumPath); err != nil {
		return err
	}
	if s.changes.Saved != nil {
		return s.changes.Saved(s.album)
	}
	return nil
}

// EnableChanges turns on POST /v1/images and DELETE /v1/images/{id}.
func (s *Server) EnableChanges(c Changes) {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 64
	}
	s.changes = c
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.changes.APIKey == "" || s.changes.AlbumPath == "" {
		fail(w, http.StatusForbidden, "changes are disabled: start the server with an API key (LOOKALIKE_API_KEY)")
		return false
	}
	return keyMatches(w, r, s.changes.APIKey)
}

// keyMatches checks the request's API key against key, answering 401
// when it does not match.
func keyMatches(w http.ResponseWriter, r *http.Request, key string) bool {
	got := r.Header.Get("X-API-Key")
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = v
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="lookalike"`)
		fail(w, http.StatusUnauthorized, "a valid API key is required to change the index")
		return false
	}
	return true
}

// added is one stored image as POST /v1/images reports it.
type added struct {
	ID   int    `json:"id"`
	Path string `json:"path"`
	Name string `json:"name"`
}

// addImages answers POST /v1/images: every "image" file of the multipart
// form is checked, described, stored under UploadDir and added; the album
// is saved before the response, so an acknowledged image survives a
// crash. A request with any bad image adds none.
func (s *Server) addImages(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, int64(s.changes.MaxBatch)*(MaxUpload+1<<20))
	mr, err := r.MultipartReader()
	if err != nil {
		fail(w, http.StatusBadRequest, "want a multipart form with image files in fields \"image\": %v", err)
		return
	}
	type upload struct {
		name string
		data []byte
		ext  string
		vec  []float32
	}
	var ups []upload
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			status := http.StatusBadRequest
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				status = http.StatusRequestEntityTooLarge
			}
			fail(w, status, "read the form: %v", err)
			return
		}
		if part.FormName() != "image" {
			continue
		}
		if len(ups) == s.changes.MaxBatch {
			fail(w, http.StatusRequestEntityTooLarge, "more than %d images in one request", s.changes.MaxBatch)
			return
		}
		data, err := readPart(part)
		if err != nil {
			fail(w, http.StatusRequestEntityTooLarge, "%s: %v", part.FileName(), err)
			return
		}
		ups = append(ups, upload{name: part.FileName(), data: data})
	}
	if len(ups) == 0 {
		fail(w, http.StatusBadRequest, "no file in field \"image\"")
		return
	}
	for i := range ups {
		img, err := imageio.DecodeReader(bytes.NewReader(ups[i].data), imageio.DefaultLimits)
		if err != nil {
			status := http.StatusUnsupportedMediaType
			if errors.Is(err, imageio.ErrTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			fail(w, status, "%s: %v", ups[i].name, err)
			return
		}
		ups[i].ext = extensionOf(ups[i].data)
		select {
		case s.slots <- struct{}{}:
		default:
			w.Header().Set("Retry-After", "1")
			fail(w, http.StatusTooManyRequests, "all %d inference slots are busy", cap(s.slots))
			return
		}
		ups[i].vec, err = s.extractor.Image(img)
		<-s.slots
		if err != nil {
			fail(w, http.StatusInternalServerError, "describe %s: %v", ups[i].name, err)
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	root, err := os.OpenRoot(s.album.Root)
	if err != nil {
		fail(w, http.StatusInternalServerError, "open the indexed folder: %v", err)
		return
	}
	defer root.Close()
	if err := root.Mkdir(UploadDir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	before := len(s.album.Entries)
	var out []added
	for _, u := range ups {
		sum := sha256.Sum256(u.data)
		rel := path.Join(UploadDir, hex.EncodeToString(sum[:16])+u.ext)
		if err := writeFile(root, rel, u.data); err != nil {
			s.album.Entries = s.album.Entries[:before]
			fail(w, http.StatusInsufficientStorage, "store %s: %v", u.name, err)
			return
		}
		s.album.Entries = append(s.album.Entries, album.Entry{
			Path: rel, Size: int64(len(u.data)), ModTime: modTime(root, rel), Vector: u.vec,
		})
		out = append(out, added{ID: len(s.album.Entries) - 1, Path: rel, Name: u.name})
	}
	if err := s.save(); err != nil {
		s.album.Entries = s.album.Entries[:before]
		fail(w, http.StatusInsufficientStorage, "save the index: %v", err)
		return
	}
	s.log.Printf("added %d images", len(out))
	writeJSON(w, http.StatusCreated, map[string]any{"added": out})
}

// readPart reads one uploaded file, refusing it past MaxUpload.
func readPart(p *multipart.Part) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(p, MaxUpload+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxUpload {
		return nil, fmt.Errorf("image over %d bytes", MaxUpload)
	}
	return data, nil
}

// extensionOf names a stored file by its content's format.
func extensionOf(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8")):
		return ".jpg"
	case bytes.HasPrefix(data, []byte("\x89PNG")):
		return ".png"
	case bytes.HasPrefix(data, []byte("GIF8")):
		return ".gif"
	case len(data) > 12 && string(data[8:12]) == "WEBP":
		return ".webp"
	case bytes.HasPrefix(data, []byte("BM")):
		return ".bmp"
	}
	return ".tif"
}

// writeFile writes data to rel under root through a synced temporary file
// and a rename.
func writeFile(root *os.Root, rel string, data []byte) error {
	tmp := rel + ".tmp" + strconv.FormatInt(time.Now().UnixNano(), 36)
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}

func modTime(root *os.Root, rel string) int64 {
	st, err := root.Stat(rel)
	if err != nil {
		return 0
	}
	return st.ModTime().UnixNano()
}

// deleteImage answers DELETE /v1/images/{id}: the entry leaves the index,
// and its file is removed when the server stored it (under UploadDir);
// the ids of later images move down by one.
func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 || id >= len(s.album.Entries) {
		fail(w, http.StatusNotFound, "no image %q", r.PathValue("id"))
		return
	}
	e := s.album.Entries[id]
	entries := append(append([]album.Entry{}, s.album.Entries[:id]...), s.album.Entries[id+1:]...)
	old := s.album.Entries
	s.album.Entries = entries
	if err := s.save(); err != nil {
		s.album.Entries = old
		fail(w, http.StatusInsufficientStorage, "save the index: %v", err)
		return
	}
	if strings.HasPrefix(e.Path, UploadDir+"/") && filepath.IsLocal(filepath.FromSlash(e.Path)) {
		if root, err := os.OpenRoot(s.album.Root); err == nil {
			root.Remove(filepath.FromSlash(e.Path))
			root.Close()
		}
	}
	s.log.Printf("deleted %s", e.Path)
	writeJSON(w, http.StatusOK, map[string]any{"deleted": map[string]any{"id": id, "path": e.Path}})
}
