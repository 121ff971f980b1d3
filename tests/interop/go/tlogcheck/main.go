// Command tlogcheck checks a Covenant log with Go's own transparency-log code,
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, unmodified: a
// stranger's verifier that knows only LEDGER.md and the log's vkey.
//
// It opens the signed checkpoint with the vkey (note.Open), reads origin,
// size and root from the note text, then
//   - checks inclusion proofs from GET /proofs/inclusion with tlog.CheckRecord,
//     each leaf hashed from its entry bundle (GET /tile/entries/...);
//   - recomputes the root from the C2SP hash tiles (tlog.TileHashReader, which
//     authenticates every tile it reads against the signed root) and proves the
//     same records and trees from the tiles;
//   - with -old, opens an older checkpoint and checks the consistency proof
//     from GET /proofs/consistency with tlog.CheckTree.
//
// Build offline against Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off go build -o tlogcheck .
//
// Usage:
//
//	tlogcheck -url http://127.0.0.1:8000 -vkey 'localhost/covenant/…+…+…' [-old 3] [-index 0,7,300]
//
// -checkpoint and -old take a file, a URL or a block height (GET /blocks/{h}/checkpoint);
// the default checkpoint is GET /checkpoint. Exit status 0: all checked; 1: a check failed; 2: usage.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8 // C2SP tlog-tiles: 256 hashes per tile

var client = &http.Client{Timeout: 30 * time.Second}

type failure struct{ msg string }

func (f failure) Error() string { return f.msg }

func fail(format string, args ...interface{}) {
	panic(failure{fmt.Sprintf(format, args...)})
}

func get(base, path string) []byte {
	u := strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		fail("GET %s: %v", u, err)
	}
	// As curl and Python's requests do: behind API Gateway (and Chalice), a binary answer such as
	// a tile needs an Accept header that admits it; Go's net/http sends none by default.
	req.Header.Set("Accept", "*/*")
	resp, err := client.Do(req)
	if err != nil {
		fail("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fail("GET %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		fail("GET %s: status %d: %s", u, resp.StatusCode, bytes.TrimSpace(body))
	}
	return body
}

// readSource reads a checkpoint from a file, a URL, or a block height of the log at base.
func readSource(base, src string) []byte {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		return get(src, "")
	}
	if h, err := strconv.ParseUint(src, 10, 63); err == nil {
		return get(base, fmt.Sprintf("blocks/%d/checkpoint", h))
	}
	data, err := os.ReadFile(src)
	if err != nil {
		fail("%v", err)
	}
	return data
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// open verifies the log's signature with note.Open and parses the C2SP checkpoint body.
func open(data []byte, verifier note.Verifier) checkpoint {
	n, err := note.Open(data, note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		fail("checkpoint body %q is not origin, size and root lines", n.Text)
	}
	if len(lines) != 4 {
		fail("checkpoint has extension lines; LEDGER.md's have none: %q", n.Text)
	}
	origin := lines[0]
	if origin != verifier.Name() {
		fail("checkpoint origin %q is not the key name %q", origin, verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		fail("checkpoint size %q is not a decimal integer", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		fail("checkpoint root %q is not a base64 SHA-256 hash", lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return checkpoint{origin, size, root}
}

func hashes(hexes []string, what string) []tlog.Hash {
	out := make([]tlog.Hash, len(hexes))
	for i, s := range hexes {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			fail("%s: path[%d] %q is not a hex SHA-256 hash", what, i, s)
		}
		copy(out[i][:], b)
	}
	return out
}

func getJSON(base, path string, v interface{}) {
	if err := json.Unmarshal(get(base, path), v); err != nil {
		fail("GET %s: %v", path, err)
	}
}

// c2spPath turns x/mod's tile path tile/8/L/NNN[.p/W] (tile/8/data/... for entries) into C2SP's.
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", tileHeight))
	if t.L == -1 {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

// tiles is a tlog.TileReader over the log's C2SP hash tiles.
type tiles struct {
	base  string
	reads int
}

func (r *tiles) Height() int { return tileHeight }

func (r *tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		out[i] = get(r.base, c2spPath(t))
		r.reads++
	}
	return out, nil
}

func (r *tiles) SaveTiles([]tlog.Tile, [][]byte) {}

// entry returns record index's bytes from its entry bundle as of a tree of size.
func entry(base string, index, size int64) []byte {
	n := index / (1 << tileHeight)
	w := size - n*(1<<tileHeight)
	if w > 1<<tileHeight {
		w = 1 << tileHeight
	}
	t := tlog.Tile{H: tileHeight, L: -1, N: n, W: int(w)}
	data := get(base, c2spPath(t))
	var items [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			fail("%s: ends inside a length", c2spPath(t))
		}
		l := int(data[0])<<8 | int(data[1])
		if len(data) < 2+l {
			fail("%s: ends inside an entry", c2spPath(t))
		}
		items = append(items, data[2:2+l])
		data = data[2+l:]
	}
	if len(items) != t.W {
		fail("%s: holds %d entries, not %d", c2spPath(t), len(items), t.W)
	}
	return items[index-n*(1<<tileHeight)]
}

func equal(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			err = f
		}
	}()
	base := flag.String("url", "", "the log's base URL (its read API)")
	vkey := flag.String("vkey", "", "the log's verifier key, <origin>+<key ID>+<base64 key>")
	cpSrc := flag.String("checkpoint", "", "checkpoint: file, URL or block height (default GET /checkpoint)")
	oldSrc := flag.String("old", "", "an older checkpoint (file, URL or block height) to check consistency with")
	indexList := flag.String("index", "", "comma-separated leaf indexes to prove (default: first, middle, last)")
	flag.Parse()
	if *base == "" || *vkey == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	verifier, verr := note.NewVerifier(*vkey)
	if verr != nil {
		fail("note.NewVerifier: %v", verr)
	}
	var data []byte
	if *cpSrc == "" {
		data = get(*base, "checkpoint")
	} else {
		data = readSource(*base, *cpSrc)
	}
	cp := open(data, verifier)
	fmt.Printf("checkpoint %s size %d root %s: signature verified by %s+%08x\n",
		cp.origin, cp.size, cp.root, verifier.Name(), verifier.KeyHash())
	if cp.size == 0 {
		return nil
	}

	reader := &tiles{base: *base}
	hr := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, reader)
	root, terr := tlog.TreeHash(cp.size, hr)
	if terr != nil {
		fail("tree hash from the tiles: %v", terr)
	}
	if root != cp.root {
		fail("tiles give root %s, checkpoint says %s", root, cp.root)
	}
	fmt.Printf("tiles: root recomputed from the hash tiles\n")

	indexes := []int64{0}
	for _, i := range []int64{cp.size / 2, cp.size - 1} {
		if i != indexes[len(indexes)-1] {
			indexes = append(indexes, i)
		}
	}
	if *indexList != "" {
		indexes = nil
		for _, s := range strings.Split(*indexList, ",") {
			i, perr := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if perr != nil {
				fail("-index: %v", perr)
			}
			indexes = append(indexes, i)
		}
	}
	for _, i := range indexes {
		var proof struct {
			LeafIndex int64    `json:"leaf_index"`
			TreeSize  int64    `json:"tree_size"`
			Path      []string `json:"path"`
		}
		getJSON(*base, fmt.Sprintf("proofs/inclusion?index=%d&size=%d", i, cp.size), &proof)
		if proof.LeafIndex != i || proof.TreeSize != cp.size {
			fail("inclusion proof is for leaf %d of %d, not %d of %d", proof.LeafIndex, proof.TreeSize, i, cp.size)
		}
		path := hashes(proof.Path, "inclusion proof")
		record := entry(*base, i, cp.size)
		leaf := tlog.RecordHash(record)
		var e struct {
			ID string `json:"id"`
		}
		if jerr := json.Unmarshal(record, &e); jerr != nil || e.ID == "" {
			fail("entry %d in its bundle is not an entry: %v", i, jerr)
		}
		var found struct {
			Index int64 `json:"index"`
		}
		getJSON(*base, "entries/"+url.PathEscape(e.ID), &found)
		if found.Index != i {
			fail("GET /entries/%s says index %d, its bundle %d", e.ID, found.Index, i)
		}
		fromTiles, perr := tlog.ProveRecord(cp.size, i, hr)
		if perr != nil {
			fail("proving record %d from the tiles: %v", i, perr)
		}
		if !equal(fromTiles, path) {
			fail("the API's inclusion proof of %d differs from the one the tiles give", i)
		}
		if cerr := tlog.CheckRecord(path, cp.size, cp.root, i, leaf); cerr != nil {
			fail("tlog.CheckRecord(index %d, size %d): %v", i, cp.size, cerr)
		}
		fmt.Printf("inclusion: record %d of %d verified (%d hashes)\n", i, cp.size, len(path))
	}

	if *oldSrc != "" {
		old := open(readSource(*base, *oldSrc), verifier)
		if old.size > cp.size {
			fail("the old checkpoint (%d) is larger than the new one (%d)", old.size, cp.size)
		}
		if old.size == 0 {
			fail("the old checkpoint is of the empty tree")
		}
		var proof struct {
			First  int64    `json:"first"`
			Second int64    `json:"second"`
			Path   []string `json:"path"`
		}
		getJSON(*base, fmt.Sprintf("proofs/consistency?first=%d&second=%d", old.size, cp.size), &proof)
		if proof.First != old.size || proof.Second != cp.size {
			fail("consistency proof is for %d..%d, not %d..%d", proof.First, proof.Second, old.size, cp.size)
		}
		path := hashes(proof.Path, "consistency proof")
		if cerr := tlog.CheckTree(path, cp.size, cp.root, old.size, old.root); cerr != nil {
			fail("tlog.CheckTree(%d -> %d): %v", old.size, cp.size, cerr)
		}
		fromTiles, perr := tlog.ProveTree(cp.size, old.size, hr)
		if perr != nil {
			fail("proving tree %d from the tiles: %v", old.size, perr)
		}
		if !equal(fromTiles, path) {
			fail("the API's consistency proof %d -> %d differs from the one the tiles give", old.size, cp.size)
		}
		fmt.Printf("consistency: tree %d (root %s) is a prefix of tree %d\n", old.size, old.root, cp.size)
	}
	fmt.Printf("tiles: %d tile reads, each tile authenticated by the signed root\n", reader.reads)
	fmt.Println("OK")
	return nil
}

func main() {
	if err := run(); err != nil {
		var f failure
		if errors.As(err, &f) {
			fmt.Fprintf(os.Stderr, "tlogcheck: FAIL: %s\n", f.msg)
		} else {
			fmt.Fprintf(os.Stderr, "tlogcheck: FAIL: %v\n", err)
		}
		os.Exit(1)
	}
}
