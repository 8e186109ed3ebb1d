package store_test

import (
	"fmt"
	"log"
	"os"

	"github.com/lookalike/lookalike/store"
)

func ExampleCreate() {
	dir, err := os.MkdirTemp("", "store-example-*")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := store.Create(dir, store.Options{Bits: 8})
	if err != nil {
		log.Fatal(err)
	}
	ids, err := st.Add([]store.Item{
		{Code: []uint64{0b1111_0000}, Meta: store.Meta{Label: 1, Path: "a.png"}},
		{Code: []uint64{0b1111_0001}, Meta: store.Meta{Label: 1, Path: "b.png"}},
		{Code: []uint64{0b0000_1111}, Meta: store.Meta{Label: 2, Path: "c.png"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Once Add returns, the items survive a crash; a delete likewise.
	if err := st.Delete(ids[0]); err != nil {
		log.Fatal(err)
	}
	st.Close()

	st, err = store.Open(dir) // verifies every file
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	hits, _ := st.Search([]uint64{0b1111_0000}, 2)
	for _, h := range hits {
		it, _ := st.Get(h.ID)
		fmt.Println(h.ID, h.Distance, it.Path)
	}
	// Output:
	// 1 1 b.png
	// 2 8 c.png
}
