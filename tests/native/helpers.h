#pragma once
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "hooklab/json_io.h"
#include "hooklab/model.h"
#include "hooklab/patching.h"

namespace testing {

inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_file(path)); }

inline std::string source(const std::string& rel) { return std::string(HOOKLAB_SOURCE_DIR) + "/" + rel; }
inline std::string ckpt(const std::string& name) { return std::string(HOOKLAB_CKPT_DIR) + "/" + name; }

// The 12x12 test checkpoint, loaded once for the whole test binary.
inline const hooklab::Model& mid_model() {
    static const hooklab::Model m = hooklab::load_model_dir(ckpt("mid"));
    return m;
}

// Interventions given as JSON (an array, or one object), parsed against m's shape as the CLIs
// and the binding parse them.
inline std::vector<hooklab::Intervention> ivs(const hooklab::Model& m, const nlohmann::json& list) {
    if (list.is_object()) return {hooklab::parse_intervention(list, m.gpt2.config)};
    return hooklab::parse_interventions(list.get<std::vector<nlohmann::json>>(), m.gpt2.config);
}

// The options of one case of a <ckpt>__patching.json or __gradients.json golden: the file's
// prompts and tokens, the case's hook and interventions.
inline hooklab::PatchOptions patch_options_from(const hooklab::Model& m, const nlohmann::json& golden, const nlohmann::json& c) {
    hooklab::PatchOptions o;
    o.clean = golden["clean"];
    o.corrupted = golden["corrupted"];
    o.answer = golden["answer"];
    o.wrong = golden["wrong"];
    o.hook = c["hook"];
    o.interventions = ivs(m, c["interventions"]);
    return o;
}

}  // namespace testing
