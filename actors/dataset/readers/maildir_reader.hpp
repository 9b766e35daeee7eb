// The maildir source kind: a folder tree of files, one document (an e-mail) per file, labelled
// by the folder it sits in. Options: label_from ("parent", the default: the name of the folder
// the file sits in, files directly under path stay unlabelled; or "none"), label_map
// ("spam-1=spam,easy-ham-1=ham,...": folder name to label; every labelled folder must then be
// listed), extension (".txt": only files ending so). Hidden files are skipped and files are read in
// sorted path order, so a run is deterministic. record.text is the file's bytes; e-mails are often
// Latin-1, so invalid UTF-8 is repaired (each bad byte becomes U+FFFD) and meta "utf8_repaired" is
// set rather than refusing the mail; with raw: true the bytes pass through untouched for an
// email_to_text rule that decodes each MIME part by its charset. Parsing the e-mail is left to
// the cleaning stage. An
// unreadable file goes to the quarantine under "maildir_reader" with its path.
#pragma once

#include <cstdint>

#include <caf/expected.hpp>

#include "dataset/readers/reader.hpp"

namespace llmos::dataset {

/// Reads a maildir source; returns the number of records emitted.
caf::expected<uint64_t> read_maildir(const source_spec& spec, quarantine& q, const emit_fn& emit);

} // namespace llmos::dataset
