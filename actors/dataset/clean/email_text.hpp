// The email_to_text cleaning rule: a raw RFC 822 message becomes the text a reader would see.
// Headers are dropped except the Subject (kept as the first line); MIME multiparts are walked
// (nested too), quoted-printable and base64 decoded, text/plain preferred over text/html
// (which is stripped to text), charsets other than UTF-8 read as Latin-1, and quoted replies
// dropped unless asked for. A transforming rule: records change in place, none is removed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dataset/clean/rule_stats.hpp"
#include "dataset/record.hpp"

namespace llmos::dataset {

/// Options of email_to_text.
struct email_options {
  /// Keep quoted replies: lines starting with '>', "On ... wrote:" attributions and Outlook's
  /// "-----Original Message-----" blocks (default: drop them).
  bool keep_quoted_replies = false;
};

/// The readable text of one raw e-mail: "Subject\n\nbody" (just the body without a Subject).
std::string email_to_text(std::string_view raw, const email_options& options = {});

/// Drops quoted reply lines ('>'), their "... wrote:" attribution lines, and everything from
/// an Outlook "-----Original Message-----" line on, from `text`.
std::string drop_quoted_replies(std::string_view text);

/// The rule: replaces every record's text by email_to_text of it; counts changed records.
rule_stats email_to_text(std::vector<record>& records, const email_options& options = {});

} // namespace llmos::dataset
