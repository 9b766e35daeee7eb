#include "llmos/runtime/topology.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/yaml_fields.hpp"
#include "topology_parser.hpp"

namespace llmos {

namespace fs = std::filesystem;

const node_spec* topology::find_node(const std::string& name) const {
  auto i = std::find_if(nodes.begin(), nodes.end(),
                        [&](const node_spec& node) { return node.name == name; });
  return i == nodes.end() ? nullptr : &*i;
}

using namespace yaml_fields;
using topology_detail::topology_parser;

caf::expected<topology> parse_topology(const std::string& text, const std::string& source,
                                       const actor_kind_table& kinds) {
  auto fail = [&](int line, const std::string& what) {
    return make_llmos_error(error_code::bad_topology,
                            source + ":" + std::to_string(line) + ": " + what);
  };
  try {
    // Not YAML::LoadAll: it never returns on some inputs (see count_documents).
    const auto counted = yaml_fields::count_documents(text, 1);
    if (counted.documents > 1)
      return fail(counted.second_line, "the file holds more than one YAML document; remove the "
                                       "'---' separator and keep one topology per file");
    const auto doc = YAML::Load(text);
    if (counted.documents == 0 || doc.IsNull())
      return fail(1, "the file is empty; a topology needs at least a 'nodes' list "
                     "(see docs/topology.md)");
    if (!doc.IsMap())
      return fail(line_of(doc), "the top level must be a map with keys such as 'nodes:', but it "
                                "is " +
                                    kind_of(doc) + "; see docs/topology.md");
    topology_parser parser(source, kinds);
    return parser.parse(doc);
  } catch (const refusal& r) {
    return fail(r.line, r.what);
  } catch (const YAML::ParserException& e) {
    // An unclosed bracket is reported one line past the end; point at the last line instead.
    const auto newlines = std::count(text.begin(), text.end(), '\n');
    const int last_line =
        static_cast<int>(newlines) + (text.empty() || text.back() == '\n' ? 0 : 1);
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
    return fail(std::max(1, std::min(line, last_line)),
                "YAML syntax error: " + e.msg + "; check the indentation and brackets here");
  } catch (const std::exception& e) {
    // yaml-cpp conversions and std::filesystem (cwd gone) throw; never let that escape.
    return fail(1, std::string{"cannot parse the file: "} + e.what());
  }
}

caf::expected<topology> load_topology(const std::string& path, const actor_kind_table& kinds) {
  std::error_code ec;
  std::ifstream in(path);
  if (!in || fs::is_directory(path, ec)) {
    const std::string reason = !in ? std::strerror(errno) : "it is a directory";
    return make_llmos_error(error_code::bad_topology,
                            path + ": cannot read the topology file (" + reason +
                                "); check that the path exists and is a readable file");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_topology(text.str(), path, kinds);
}

topology embedded_topology() {
  topology result;
  result.source = "<embedded>";
  result.seed = "local";
  node_spec node;
  node.name = "local";
  node.host = "127.0.0.1";
  node.port = 0;
  node.rpc_port = 0;
  node.devices = {"cpu"};
  result.nodes.push_back(std::move(node));
  return result;
}

} // namespace llmos
