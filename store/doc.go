// Package store keeps a durable, changeable index of binary codes on disk:
// items can be added and deleted while searches run, and a process killed
// at any instant leaves a directory that reopens with every acknowledged
// change and nothing half-written.
//
// # Layout
//
// A store is a directory:
//
//	store.db     metadata: configuration, segment list, one record per
//	             item (label, path, content hash), tombstones (bbolt)
//	000001.seg   codes, ids and optional float32 descriptors, appended
//	000002.seg   in checksummed blocks (segment.go has the format)
//	model.lkm    optionally, the model that encoded the codes
//
// Codes live in segment files rather than in the database because they are
// the bulk of the data (a million 64-bit codes and their ids are 16 MB),
// are only ever appended or rewritten whole, and are read once, in order,
// into memory at open; a flat file with a CRC-32C per block does that at
// disk speed and names the damaged block. Metadata is the opposite: small
// records looked up by id, deleted one at a time, and changed together
// with the segment list in one atomic step. That is what an embedded
// transactional key-value store is for, and bbolt (go.etcd.io/bbolt) is
// the one that fits: pure Go (no cgo beside ONNX Runtime), a single file,
// copy-on-write B+tree pages committed by two alternating checksummed meta
// pages, so that a crash leaves the previous or the next transaction and
// never a mix, and readers that never block the writer. Its data pages
// carry no checksum, so every value this package stores ends with a
// CRC-32C of its key and bytes, and Open walks them all.
//
// # Writes and crashes
//
// Every change is committed in bbolt last. An add appends blocks to the
// active segment, writes the segment header's spare count slot, syncs the
// file, and only then commits the items and the segment's new length in
// one bbolt transaction; Add returns after that commit. A crash before it
// leaves records past the committed length: Open drops them and truncates
// the torn tail. Deletes are tombstones committed in bbolt, filtered from
// searches at once; Compact rewrites the segments that hold tombstones
// into new files, commits the switch, then removes the old files, so a
// crash leaves either the old files or the new ones in the segment list,
// and Open deletes whichever are not.
//
// Open verifies everything before answering: the magic, version and
// checksums of every segment header and block, every metadata value's
// checksum, and that the committed items and tombstones are exactly the
// ids in the segments. Damage is reported as a *CorruptError naming the
// file ("store: segment 000003.seg: checksum mismatch at block 7"), never
// read as data.
//
// # Searching
//
// Open loads the codes of live items into an exact Hamming index
// (index.Hamming). A delete marks the item dead in memory; searches ask the
// index for k plus the number of dead items and filter them, and once the
// dead exceed a bound the index is rebuilt without them, so that the
// overhead stays small. Searches hold a read lock; writers do their disk
// work outside it and take the write lock only to publish the change, so a
// search sees the index before or after a change, never during.
//
// # Caveats
//
// Item ids are assigned by the store, increase, and are never reused.
// bbolt commits by writing one of two checksummed meta pages; damage to
// the newer one makes bbolt fall back to the older one, exactly as after
// a crash during that commit, so the store reopens as it was before its
// last change (the test of random flips in store.db accepts that and
// nothing else). bbolt does not checksum its freelist page, and its own
// page check (Tx.Check) faults unrecoverably on a damaged page, so Open
// does not run it: a damaged freelist is found only once a later commit
// reuses a live page, by the next Open's checksums.
// Codes and descriptors are held in memory (a 1024-dimensional descriptor
// costs 4 KiB an item). One process opens a store at a time: bbolt's file
// lock makes a second Open fail after a second.
package store
