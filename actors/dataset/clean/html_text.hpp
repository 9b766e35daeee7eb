// HTML to readable text for the e-mail cleaner: tags removed, script/style/comments dropped,
// block elements turned into line breaks, and character references decoded. A small scanner,
// not a parser: mail HTML is usually broken, and the goal is the words a reader would see.
#pragma once

#include <string>
#include <string_view>

namespace llmos::dataset {

/// The visible text of `html` (UTF-8 in, UTF-8 out): block elements end lines, runs of blanks
/// collapse to one space, entities (&amp; &lt; &gt; &quot; &nbsp; &#NN; &#xHH; and the Latin-1
/// names) are decoded.
std::string html_to_text(std::string_view html);

/// `text` with its HTML character references decoded; unknown ones are kept as written.
std::string decode_html_entities(std::string_view text);

} // namespace llmos::dataset
