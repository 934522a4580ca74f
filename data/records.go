package data

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Records are a domain's records by position: what the trainer's sampler
// draws from.
type Records interface {
	Len() int
	Record(i int) (Record, error)
}

// RecordSlice is Records held in memory.
type RecordSlice []Record

func (s RecordSlice) Len() int                     { return len(s) }
func (s RecordSlice) Record(i int) (Record, error) { return s[i], nil }

// RecordFile is a JSONL records file read on demand: it keeps where each
// record's line starts, 16 bytes a record, and parses a record when it is
// asked for, so a domain of millions of records with long hard negatives
// costs megabytes, not gigabytes.
type RecordFile struct {
	path    string
	size    int64
	modTime time.Time
	offset  []int64 // where each record's line starts
	length  []int32 // its length in bytes
	line    []int32 // its 1-based line number (the default query id of FlagEmbedding lines)
}

// IndexRecords opens a records file: one pass that validates every line
// (the first bad one is a *LineError naming the file, line and field) and
// remembers where each record is. A .gz file cannot be read at an offset:
// its records are held in memory instead.
func IndexRecords(path string) (Records, error) {
	if strings.HasSuffix(path, ".gz") {
		recs, err := ReadRecords(path)
		if err == nil && len(recs) == 0 {
			err = ErrNoRecords(path)
		}
		return RecordSlice(recs), err
	}
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	rf := &RecordFile{path: path, size: st.Size(), modTime: st.ModTime()}
	rd := NewReader(f, path)
	for {
		if _, err := rd.Next(); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		start, n := rd.Span()
		if n > 1<<31-1 {
			return nil, &LineError{File: path, Line: rd.Line(), Err: fmt.Errorf("line of %d bytes (at most 2 GiB)", n)}
		}
		rf.offset = append(rf.offset, start)
		rf.length = append(rf.length, int32(n))
		rf.line = append(rf.line, int32(rd.Line()))
	}
	if rf.Len() == 0 {
		return nil, ErrNoRecords(path)
	}
	return rf, nil
}

// Len is the number of records.
func (rf *RecordFile) Len() int { return len(rf.offset) }

// Record reads and parses record i. The file must be the one indexed: a
// file changed since (size or modification time) is an error, not a
// silently different record.
func (rf *RecordFile) Record(i int) (Record, error) {
	f, err := os.Open(rf.path)
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Record{}, err
	}
	if st.Size() != rf.size || !st.ModTime().Equal(rf.modTime) {
		return Record{}, fmt.Errorf("read %s: the file changed since it was indexed (restart to read it again)", rf.path)
	}
	b := make([]byte, rf.length[i])
	if _, err := f.ReadAt(b, rf.offset[i]); err != nil {
		return Record{}, fmt.Errorf("read %s line %d: %w", rf.path, rf.line[i], err)
	}
	rec, ferr := parseRecord(bytes.TrimSpace(b), DefaultID(rf.path, int(rf.line[i])))
	if ferr != nil {
		return Record{}, lineError(rf.path, int(rf.line[i]), ferr)
	}
	return rec, nil
}

// ErrNoRecords is the error for a records file without records: a domain
// without records cannot be sampled from (an empty file is a mistake, e.g. a
// failed export, not a domain).
func ErrNoRecords(path string) error {
	return fmt.Errorf("%s: no records (the file is empty or only blank lines)", path)
}
