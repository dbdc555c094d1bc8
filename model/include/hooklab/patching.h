#pragma once
// Activation patching and direct logit attribution (TransformerLens's semantics,
// transformer_lens.patching and ActivationCache.decompose_resid), computed by resuming
// the corrupted run instead of one full forward per patch.
#include <memory>
#include <string>
#include <vector>

#include "hooklab/intervention.h"
#include "hooklab/run.h"

namespace hooklab {

// A token given as text that is exactly one token (" Mary") or as "#ID". Throws Error
// saying how the text splits otherwise; `what` names the option in the message.
int parse_single_token(const Tokenizer& tok, const Config& c, const std::string& text, const char* what);

struct PatchOptions {
    std::string clean, corrupted, answer, wrong;
    std::string hook = "resid_pre";  // resid_pre | attn_out | mlp_out | z
    std::string by;                  // position | head; "" = head for z, else position
    // What each patched run measures at the last position: logit_diff (answer - wrong), or the
    // answer's prob, logprob or loss (-logprob; these need no wrong token: "" leaves it out).
    std::string metric = "logit_diff";
    std::vector<Intervention> interventions;
};

// The metrics patching measures, logit_diff first (the default).
const std::vector<std::string>& patch_metrics();

// What patching checks and reads before any forward, shared by the exact sweep and attribution
// patching (the same checks, in the same order, with the same messages).
struct PatchSetup {
    Hook family = Hook::ResidPre;
    std::string family_name, by;
    std::vector<Intervention> ivs;
    std::vector<int> clean, corrupted;
    int answer = 0, wrong = 0, T = 0;  // wrong: -1 when not given (a metric of the answer alone)
    std::string metric = "logit_diff";
    bool by_head() const { return by == "head"; }
};
PatchSetup prepare_patch(const Model& m, const PatchOptions& opt);

// A patching sweep's result, exact or estimated (attribution patching, backward.h): what
// patch_json (json_io.h) writes out.
struct PatchResult {
    std::string hook, by;                       // the family patched, and how
    std::string method = "exact";               // exact | attribution
    std::vector<int> clean_tokens, corrupted_tokens;
    int answer_id = 0, wrong_id = 0;            // wrong_id -1: none given
    std::string metric = "logit_diff";          // what the rows hold (their JSON key: the metric's name)
    double clean_logit_diff = 0, corrupted_logit_diff = 0;  // the clean and corrupted runs' metric
    int n_layer = 0;
    std::vector<Intervention> interventions;    // as applied
    // [n_layer][position or head]: the patched logit difference, and normalised:
    // (x - corrupted) / (clean - corrupted) (NaN when clean == corrupted). Empty in a header.
    std::vector<std::vector<double>> logit_diff, normalized;
    double forwards = 0;                        // the work in whole forwards (exact); forwards run (attribution)
    int backwards = 0;                          // backward passes run (attribution: 1)
    double ms = 0;
};

// A sweep, one block at a time (so that a caller can report progress and stop between
// blocks). The constructor checks everything and runs the clean and corrupted prompts.
class Patcher {
public:
    Patcher(const Model& m, const PatchOptions& opt);
    ~Patcher();
    Patcher(const Patcher&) = delete;
    Patcher& operator=(const Patcher&) = delete;

    int layers() const;
    // The patched logit differences of block L: one per position (by position) or head (z).
    const std::vector<double>& run_layer(int layer);
    // The result; every block must have been run.
    PatchResult result() const;
    // What is known before the sweep: tokens, ids, clean and corrupted logit differences
    // (no rows, forwards or ms).
    PatchResult header() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The whole sweep.
PatchResult patch(const Model& m, const PatchOptions& opt);

struct AttributeOptions {
    std::string prompt, answer, wrong;
    std::vector<Intervention> interventions;
};

// One component's direct contribution to the logit difference.
struct Component {
    std::string name;  // embed, pos_embed, blocks.L.attn.head.H, blocks.L.attn.bias, blocks.L.mlp, ln_final.bias, unembed.bias (processed weights)
    double value = 0;
};
struct AttributeResult {
    std::vector<int> tokens;
    int answer_id = 0, wrong_id = 0;
    double logit_diff = 0;
    std::vector<Component> components;
    std::vector<Intervention> interventions;  // as applied
};

// Direct logit attribution at the last position.
AttributeResult attribute(const Model& m, const AttributeOptions& opt);

}  // namespace hooklab
