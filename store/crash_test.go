package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"
)

// crashChildEnv, when set to a directory, makes the test binary a writer
// child: it opens (or creates) the store there and changes it until
// killed, printing each change once it is acknowledged.
const crashChildEnv = "LOOKALIKE_STORE_CRASH_CHILD"

const crashBits = 72

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashItem is the item an add with seed carries: the parent rebuilds it
// from the seed to check what came back.
func crashItem(seed uint64) Item {
	rng := rand.New(rand.NewPCG(seed, 99))
	return Item{Code: randomCode(rng, crashBits), Descriptor: []float32{float32(seed), 0.5},
		Meta: Meta{Label: int32(seed % 10), Path: fmt.Sprintf("p/%d.png", seed), Hash: strconv.FormatUint(seed*31, 16)}}
}

// crashChild writes random adds (1 to 20 items), deletes and compactions,
// printing "A id seed" per added item, "D id" per deleted one and "C"
// after a compaction, each only after the call returned, and "T id" per
// item it is about to delete: a delete that committed just before the
// kill was never acknowledged, but the item is rightly gone.
func crashChild(dir string) {
	s, err := Open(dir)
	if err != nil {
		s, err = Create(dir, Options{Bits: crashBits, Dim: 2})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	s.SetSegmentItems(60)
	live := s.IDs()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	out := bufio.NewWriter(os.Stdout)
	for {
		switch op := rng.IntN(20); {
		case op < 12 || len(live) == 0:
			n := 1 + rng.IntN(20)
			items := make([]Item, n)
			seeds := make([]uint64, n)
			for i := range items {
				seeds[i] = rng.Uint64() >> 1
				items[i] = crashItem(seeds[i])
			}
			ids, err := s.Add(items)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(4)
			}
			for i, id := range ids {
				fmt.Fprintf(out, "A %d %d\n", id, seeds[i])
			}
			live = append(live, ids...)
		case op < 19:
			n := 1 + rng.IntN(min(5, len(live)))
			var ids []uint64
			for range n {
				i := rng.IntN(len(live))
				ids = append(ids, live[i])
				live = slices.Delete(live, i, i+1)
			}
			for _, id := range ids {
				fmt.Fprintf(out, "T %d\n", id)
			}
			out.Flush()
			if err := s.Delete(ids...); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(4)
			}
			for _, id := range ids {
				fmt.Fprintf(out, "D %d\n", id)
			}
		default:
			if err := s.Compact(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(4)
			}
			fmt.Fprintln(out, "C")
		}
		// One write per change: what the parent reads was acknowledged.
		out.Flush()
	}
}

// TestStore_KilledWriter kills a writer process with SIGKILL at random
// instants, many times over the same store, and checks after each kill
// that the store opens, holds every acknowledged item intact, and none
// whose delete was acknowledged.
func TestStore_KilledWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	acked := map[uint64]uint64{} // id -> seed, acknowledged adds
	deleted := map[uint64]bool{} // acknowledged deletes
	tried := map[uint64]bool{}   // deletes started
	rng := rand.New(rand.NewPCG(5, 5))
	start := time.Now()
	runs, changes, repairs := 0, 0, 0
	for runs < 8 || time.Since(start) < 3*time.Second && runs < 60 {
		runs++
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Some kills land while the child is still opening (and
		// repairing) the store, most while it writes.
		time.AfterFunc(time.Duration(5+rng.IntN(120))*time.Millisecond, func() { cmd.Process.Kill() })
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var op string
			var id, seed uint64
			if n, _ := fmt.Sscan(sc.Text(), &op, &id, &seed); n == 0 {
				continue
			}
			changes++
			switch op {
			case "A":
				acked[id] = seed
			case "D":
				deleted[id] = true
			case "T":
				tried[id] = true
			}
		}
		if err := cmd.Wait(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
				t.Fatalf("run %d: the writer failed before the kill: %v", runs, err)
			}
		}
		repairs += checkAfterCrash(t, dir, runs, acked, deleted, tried)
	}
	if changes == 0 {
		t.Fatal("no change was acknowledged in any run")
	}
	t.Logf("%d kills, %d acknowledged changes, %d items added, %d deleted, %d files repaired on reopening",
		runs, changes, len(acked), len(deleted), repairs)
}

// checkAfterCrash reopens the store and checks it; it returns the
// repairs Open made.
func checkAfterCrash(t *testing.T, dir string, run int, acked map[uint64]uint64, deleted, tried map[uint64]bool) int {
	t.Helper()
	if _, err := os.Stat(dir + "/" + dbFile); os.IsNotExist(err) && len(acked) == 0 {
		return 0 // killed before Create finished
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("after kill %d: %v", run, err)
	}
	defer s.Close()
	for id, seed := range acked {
		it, err := s.Get(id)
		if deleted[id] {
			if err == nil {
				t.Fatalf("after kill %d: item %d is back after its acknowledged delete", run, id)
			}
			continue
		}
		if err != nil && tried[id] {
			deleted[id] = true // the delete committed unacknowledged
			continue
		}
		if err != nil {
			t.Fatalf("after kill %d: acknowledged item %d: %v", run, id, err)
		}
		want := crashItem(seed)
		if !slices.Equal(it.Code, want.Code) || !slices.Equal(it.Descriptor, want.Descriptor) || it.Meta != want.Meta {
			t.Fatalf("after kill %d: item %d is %+v, want %+v", run, id, it, want)
		}
		hits, err := s.Search(it.Code, 1)
		if err != nil || len(hits) == 0 || hits[0].Distance != 0 {
			t.Fatalf("after kill %d: searching item %d's code: %v %v", run, id, hits, err)
		}
	}
	return s.Stats().Repairs
}
