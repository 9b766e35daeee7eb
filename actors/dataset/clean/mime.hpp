// The pieces of RFC 822 / MIME that turning an e-mail into text needs: splitting an entity into
// unfolded headers and body, header parameters (Content-Type, Content-Disposition), multipart
// bodies, the two transfer encodings (quoted-printable, base64), RFC 2047 encoded words in
// headers, and charset decoding. Everything is lenient: real mail is often malformed, and a
// broken part yields what could be decoded instead of an error.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace llmos::dataset {

/// One header field: name lower-cased, value unfolded and trimmed.
struct mime_header {
  std::string name;
  std::string value;
};

/// A message or body part: its headers and the raw body that follows the first empty line.
struct mime_entity {
  std::vector<mime_header> headers;
  std::string_view body;

  /// The value of the first header called `name` (lower case), or "".
  std::string header(std::string_view name) const;
};

/// Splits `raw` at the first empty line. A leading mbox "From " line is skipped; input that
/// does not start with a header line is all body.
mime_entity parse_entity(std::string_view raw);

/// A structured header value such as `text/plain; charset="iso-8859-1"`.
struct header_params {
  std::string value;                         ///< the part before the first ';', lower case
  std::map<std::string, std::string> params; ///< names lower case, values unquoted
};

/// Parses a Content-Type or Content-Disposition value.
header_params parse_header_params(std::string_view value);

/// The parts of a multipart body delimited by `--boundary` lines (preamble and epilogue
/// dropped); a missing closing delimiter ends the last part at the end of the body.
std::vector<std::string_view> split_multipart(std::string_view body, std::string_view boundary);

/// Decodes quoted-printable: `=XX` escapes and `=` soft line breaks; bad escapes kept as is.
std::string decode_quoted_printable(std::string_view text);

/// Decodes base64, skipping line breaks and any other byte outside the alphabet.
std::string decode_base64(std::string_view text);

/// Decodes a body by its Content-Transfer-Encoding (7bit, 8bit and unknown ones: unchanged).
std::string decode_transfer_encoding(std::string_view body, std::string_view encoding);

/// `bytes` in `charset` as UTF-8: UTF-8 and ASCII kept when valid, everything else (and
/// invalid UTF-8 bytes) read as Latin-1 / Windows-1252.
std::string charset_to_utf8(std::string_view bytes, std::string_view charset);

/// A header value with its RFC 2047 encoded words (`=?charset?B|Q?...?=`) decoded, as UTF-8.
std::string decode_header_words(std::string_view value);

} // namespace llmos::dataset
