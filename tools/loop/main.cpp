// llmos-traffic: the feedback loop's user population (see traffic.hpp). Texts come from a data
// set actor over msgpack-RPC, requests and feedback go over HTTP; a summary is printed as JSON.
#include <fstream>
#include <iostream>
#include <set>

#include <boost/program_options.hpp>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/rpc_client.hpp"
#include "traffic.hpp"

namespace po = boost::program_options;

namespace {

/// Up to `wanted` of the data set's own records (not augmented ones) with their labels, asked
/// from the node on 127.0.0.1:rpc_port.
caf::expected<std::vector<llmos::loop::labelled_text>>
sample_texts(uint16_t rpc_port, const std::string& dataset, uint32_t wanted) {
  llmos::rpc::client c;
  if (auto err = c.connect("127.0.0.1", rpc_port, std::chrono::seconds(5)))
    return llmos::make_llmos_error(llmos::error_code::io_failed,
                                   "127.0.0.1:" + std::to_string(rpc_port) + ": " +
                                       llmos::describe(err));
  nlohmann::json params = {dataset, "sample", {{"n", std::to_string(wanted)}}};
  auto r = c.call("send", params, std::chrono::seconds(60));
  if (!r || !r->ok || !r->value.is_array())
    return llmos::make_llmos_error(llmos::error_code::bad_params,
                                   "sampling '" + dataset +
                                       "': " + (r ? r->value.dump() : llmos::describe(r.error())));
  std::vector<llmos::loop::labelled_text> texts;
  for (const auto& rec : r->value)
    if (!rec.value("augmented", false) && !rec.value("text", std::string{}).empty())
      texts.push_back({rec["text"].get<std::string>(), rec.value("label", std::string{}), false});
  return texts;
}

} // namespace

int main(int argc, char** argv) {
  llmos::loop::traffic_options o;
  std::string dataset, json_out;
  uint16_t rpc_port = 47000;
  uint32_t texts_wanted = 1000;
  po::options_description desc{"llmos-traffic: held-back texts as user requests, with feedback"};
  desc.add_options()("help,h", "this help")("rpc", po::value(&rpc_port)->default_value(47000),
                                            "msgpack-RPC port of the node")(
      "http", po::value(&o.http_port)->default_value(47280),
      "HTTP gateway port")("model", po::value(&o.model)->required(), "model route (registry name)")(
      "dataset", po::value(&dataset)->required(), "data set actor whose records are the texts")(
      "texts", po::value(&texts_wanted)->default_value(1000), "texts to draw (at most 1000)")(
      "requests", po::value(&o.requests)->default_value(1000),
      "requests at most")("feedback-share", po::value(&o.feedback_share)->default_value(0.5),
                          "share of non-probe requests that get feedback")(
      "probe-share", po::value(&o.probe_share)->default_value(0.3),
      "share of texts kept as probes")("rate", po::value(&o.rate)->default_value(0.0),
                                       "requests per second (0 = no pacing)")(
      "after-promotion", po::value(&o.after_promotion)->default_value(200),
      "requests still sent once a newer version serves")(
      "seed", po::value(&o.seed)->default_value(1), "seed")("csv", po::value(&o.csv),
                                                            "one row per request")(
      "completions", po::bool_switch(&o.completions),
      "language model: prompts to /v1/completions, thumbs up/down and preferred completions")(
      "prompt-words", po::value(&o.prompt_words)->default_value(3), "words of a prompt")(
      "max-tokens", po::value(&o.max_tokens)->default_value(24),
      "tokens per completion")("json", po::value(&json_out), "the summary as JSON");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "llmos-traffic: " << e.what() << "\n" << desc << "\n";
    return 2;
  }
  auto sampled = sample_texts(rpc_port, dataset, texts_wanted);
  if (!sampled) {
    std::cerr << "llmos-traffic: " << llmos::describe(sampled.error()) << "\n";
    return 1;
  }
  auto& texts = *sampled;
  llmos::loop::mark_probes(texts, o.probe_share, o.seed);
  std::cerr << "llmos-traffic: " << texts.size() << " texts from '" << dataset << "'\n";
  auto res = llmos::loop::run_traffic(o, texts);
  auto j = res.to_json();
  std::cout << j.dump(2) << "\n";
  if (!json_out.empty())
    std::ofstream{json_out} << j.dump(2) << "\n";
  return res.sent > 0 && res.failed < res.sent ? 0 : 1;
}
