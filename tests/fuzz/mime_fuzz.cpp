// E-mails as the cleaning stage meets them (maildir sources read raw bytes): MIME headers,
// encoded words, multipart bodies, quoted-printable and base64, charsets and HTML parts, all
// turned into text by email_to_text; and the HTML reader on the same bytes.
#include "dataset/clean/email_text.hpp"
#include "dataset/clean/html_text.hpp"
#include "dataset/clean/mime.hpp"
#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto raw = llmos::fuzz::as_text(data, size);
  (void)llmos::dataset::email_to_text(raw);
  (void)llmos::dataset::email_to_text(raw, {.keep_quoted_replies = true});
  (void)llmos::dataset::html_to_text(raw);
  (void)llmos::dataset::decode_header_words(raw);
  (void)llmos::dataset::decode_quoted_printable(raw);
  (void)llmos::dataset::decode_base64(raw);
  return 0;
}
