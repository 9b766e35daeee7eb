// The idx source kind: an image set in the IDX format of MNIST and Fashion-MNIST, one file of
// images (magic 0x00000803: count, rows, cols, then rows*cols unsigned bytes per image) and one
// of labels (magic 0x00000801: count, then one byte per image), each gzipped or plain (zlib reads
// both). Options: images and labels (file paths; relative ones are taken from path when it is
// set) and limit (read at most this many images; the header still declares all). Each record holds
// the image's bytes with rows and cols, the label's decimal digits and origin.index. A wrong
// magic number, a count mismatch or a truncated file is a hard error naming the file (and the
// record index), since nothing after a broken offset can be trusted.
#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "dataset/readers/reader.hpp"

namespace llmos::dataset {

/// Reads an idx source; returns the number of records emitted.
caf::expected<uint64_t> read_idx(const source_spec& spec, quarantine& q, const emit_fn& emit);

} // namespace llmos::dataset
