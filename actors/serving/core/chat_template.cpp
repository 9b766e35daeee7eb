#include "serving/core/chat_template.hpp"

#include <sstream>

#include "llmos/messages/enum_names.hpp"
#include "llmos/runtime/text.hpp"

namespace llmos::serving {
namespace {

bool has(std::string_view text, std::string_view marker) {
  return text.find(marker) != std::string_view::npos;
}

std::string trim(const std::string& s) {
  return std::string{text::trim(s, " \t\r\n")};
}

// llama.cpp's LLM_CHAT_TEMPLATE_LLAMA_2 and its variants: one [INST] turn per user message, the
// system message inside the first turn, an assistant answer closed by </s>.
std::string llama2(const chat_style& style, const std::vector<chat_message>& messages) {
  std::ostringstream out;
  bool inside_turn = true; // the first turn's BOS is the server's
  out << "[INST] ";
  for (const auto& m : messages) {
    const auto content = style.strip ? trim(m.content) : m.content;
    if (!inside_turn) {
      inside_turn = true;
      out << (style.bos_in_history ? "<s>[INST] " : "[INST] ");
    }
    if (m.role == "system") {
      if (style.system_block)
        out << "<<SYS>>\n" << content << "\n<</SYS>>\n\n";
      else // a template without system blocks: the text still leads the first turn
        out << content << "\n";
    } else if (m.role == "assistant") {
      out << content << "</s>";
      inside_turn = false;
    } else {
      out << content << " [/INST]";
    }
  }
  return out.str();
}

/// A format whose every turn is `open` role `sep` content `end`, and whose prompt ends with an
/// open assistant turn for the model to fill (ChatML, Llama 3, Phi-3, Zephyr).
struct tagged_turns {
  std::string_view open, sep;
  std::string end;
  bool trimmed = false; ///< content without surrounding white space
};

std::string tagged(const tagged_turns& t, const std::vector<chat_message>& messages) {
  std::ostringstream out;
  for (const auto& m : messages)
    out << t.open << m.role << t.sep << (t.trimmed ? trim(m.content) : m.content) << t.end;
  out << t.open << "assistant" << t.sep;
  return out.str();
}

std::string gemma(const std::vector<chat_message>& messages) {
  // Gemma has no system turn: its text opens the next user turn.
  std::ostringstream out;
  std::string system;
  for (const auto& m : messages) {
    if (m.role == "system") {
      system += trim(m.content);
      continue;
    }
    const std::string role = m.role == "assistant" ? "model" : m.role;
    out << "<start_of_turn>" << role << "\n";
    if (!system.empty() && role != "model") {
      out << system << "\n\n";
      system.clear();
    }
    out << trim(m.content) << "<end_of_turn>\n";
  }
  out << "<start_of_turn>model\n";
  return out.str();
}

} // namespace

chat_style detect_chat_style(std::string_view jinja) {
  chat_style s;
  if (jinja.empty())
    return s;
  if (has(jinja, "<|im_start|>")) {
    s.format = chat_format::chatml;
  } else if (has(jinja, "[SYSTEM_PROMPT]")) {
    s.format = chat_format::mistral_v7;
  } else if (has(jinja, "[INST]")) {
    s.format = chat_format::llama2;
    s.system_block = has(jinja, "<<SYS>>");
    s.strip = has(jinja, "content.strip()") || has(jinja, "content | trim");
    s.bos_in_history = has(jinja, "bos_token + '[INST]") || has(jinja, "bos_token + \"[INST]");
  } else if (has(jinja, "<|start_header_id|>") && has(jinja, "<|end_header_id|>")) {
    s.format = chat_format::llama3;
  } else if (has(jinja, "<|assistant|>") && has(jinja, "<|end|>")) {
    s.format = chat_format::phi3;
  } else if (has(jinja, "<|user|>")) {
    s.format = chat_format::zephyr;
    s.end_of_turn = has(jinja, "<|endoftext|>") ? "<|endoftext|>" : "</s>";
  } else if (has(jinja, "<start_of_turn>")) {
    s.format = chat_format::gemma;
  }
  return s;
}

constexpr enum_name<chat_format> format_names[] = {
    {chat_format::plain, "plain"},   {chat_format::chatml, "chatml"},
    {chat_format::llama2, "llama2"}, {chat_format::mistral_v7, "mistral-v7"},
    {chat_format::llama3, "llama3"}, {chat_format::phi3, "phi3"},
    {chat_format::zephyr, "zephyr"}, {chat_format::gemma, "gemma"}};

std::string chat_format_name(chat_format f) {
  return std::string{name_of(format_names, f, "plain")};
}

std::string render_chat(const chat_style& style, const std::vector<chat_message>& messages) {
  std::ostringstream out;
  switch (style.format) {
  case chat_format::plain:
    for (std::size_t i = 0; i < messages.size(); ++i)
      out << (i ? "\n" : "") << messages[i].content;
    return out.str();
  case chat_format::chatml:
    return tagged({"<|im_start|>", "\n", "<|im_end|>\n"}, messages);
  case chat_format::llama2:
    return llama2(style, messages);
  case chat_format::mistral_v7:
    for (const auto& m : messages) {
      if (m.role == "system")
        out << "[SYSTEM_PROMPT] " << m.content << "[/SYSTEM_PROMPT]";
      else if (m.role == "assistant")
        out << " " << m.content << "</s>";
      else
        out << "[INST] " << m.content << "[/INST]";
    }
    return out.str();
  case chat_format::llama3:
    return tagged({"<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>", true}, messages);
  case chat_format::phi3:
    return tagged({"<|", "|>\n", "<|end|>\n"}, messages);
  case chat_format::zephyr:
    return tagged({"<|", "|>\n", style.end_of_turn + "\n"}, messages);
  case chat_format::gemma:
    return gemma(messages);
  }
  return out.str();
}

} // namespace llmos::serving
